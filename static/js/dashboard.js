// The dashboard's earnings chart (Chart.js, loaded before this module as window.Chart).
// The figures arrive as exact decimal strings (a json_script block); they become numbers only
// here, to be drawn. The table beside the chart keeps the exact figures.

const canvas = document.getElementById("earnings-chart");
const source = document.getElementById("earnings-data");

function draw() {
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.documentElement);
  const accent = style.getPropertyValue("--accent").trim() || "#5b3cc4";
  const muted = style.getPropertyValue("--muted").trim() || "#5b5b6e";
  const line = style.getPropertyValue("--line").trim() || "#dcdce6";
  const palette = [accent, "#1e7b34", "#b36b00"];
  return new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels.map((day) => day.slice(5)), // MM-DD
      datasets: data.series.map((series, i) => ({
        label: series.token,
        data: series.values.map(Number),
        exact: series.values,
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
            label: (item) => `${item.dataset.exact[item.dataIndex]} ${item.dataset.label}`,
          },
        },
      },
    },
  });
}

if (canvas && source) {
  try {
    if (typeof window.Chart !== "function") throw new Error("Chart.js did not load");
    canvas.closest(".chart-box").dataset.drawn = String(Boolean(draw()));
  } catch (error) {
    canvas.closest(".chart-box").hidden = true;
    document.querySelector(".chart-error").hidden = false;
    console.error(error);
  }
}
