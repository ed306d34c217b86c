// @ts-check
// The dashboard's earnings chart (Chart.js, loaded before this module as window.Chart).
// The figures arrive as exact decimal strings (a json_script block); they become numbers only
// here, to be drawn. The table beside the chart keeps the exact figures.

/** @import { Chart as ChartJs } from "chart.js" */

const canvas = /** @type {HTMLCanvasElement | null} */ (document.getElementById("earnings-chart"));
const source = document.getElementById("earnings-data");

/**
 * The json_script block: one label per day (YYYY-MM-DD) and per token one value per day, each an
 * exact decimal string.
 * @typedef {{labels: string[], series: {token: string, values: string[]}[]}} Earnings
 */

/**
 * @param {typeof ChartJs} Chart
 * @param {HTMLCanvasElement} canvas
 * @param {HTMLElement} source
 */
function draw(Chart, canvas, source) {
  /** @type {Earnings} */
  const data = JSON.parse(source.textContent ?? "");
  const style = getComputedStyle(document.documentElement);
  const accent = style.getPropertyValue("--accent").trim() || "#5b3cc4";
  const muted = style.getPropertyValue("--muted").trim() || "#5b5b6e";
  const line = style.getPropertyValue("--line").trim() || "#dcdce6";
  const palette = [accent, "#1e7b34", "#b36b00"];
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels.map((day) => day.slice(5)), // MM-DD
      datasets: data.series.map((series, i) => ({
        label: series.token,
        data: series.values.map(Number),
        backgroundColor: palette[i % palette.length],
        borderRadius: 3,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { ticks: { color: muted, maxRotation: 0, autoSkip: true }, grid: { display: false } },
        y: { beginAtZero: true, ticks: { color: muted }, grid: { color: line } },
      },
      plugins: {
        legend: { display: data.series.length > 1, labels: { color: muted } },
        tooltip: {
          callbacks: {
            title: (items) => data.labels[items[0].dataIndex],
            // The exact string, not the rounded number the bar was drawn from.
            label: (item) => `${data.series[item.datasetIndex].values[item.dataIndex]} ${item.dataset.label}`,
          },
        },
      },
    },
  });
}

if (canvas && source) {
  const box = /** @type {HTMLElement} */ (canvas.closest(".chart-box"));
  try {
    if (typeof window.Chart !== "function") throw new Error("Chart.js did not load");
    box.dataset.drawn = String(Boolean(draw(window.Chart, canvas, source)));
  } catch (error) {
    box.hidden = true;
    /** @type {HTMLElement} */ (document.querySelector(".chart-error")).hidden = false;
    console.error(error);
  }
}
