// The content page's live parts: the swarm panel (peers, seeds, upload rate, bytes served by
// the engine and by the web seed) and the state/hashing block, from /ws/content/<id>/ every
// second, plus the stats URL every few seconds (the web seed's counter, and a fallback).

const root = document.querySelector("[data-live-module]");
const { formatBytes, watchContent, IngestView } = await import(root.dataset.liveModule);

const contentId = root.dataset.contentId;
const panel = document.querySelector("[data-swarm-panel]");
const liveStatus = panel?.querySelector("[data-live-status]");
const ingestEl = document.querySelector("[data-ingest]");
const ingest = ingestEl ? new IngestView(ingestEl) : null;

function showStats(stats) {
  if (!panel) return;
  for (const el of panel.querySelectorAll("[data-stat]")) {
    const value = stats[el.dataset.stat];
    if (value === undefined || value === null) continue;
    const format = el.dataset.format;
    el.textContent =
      format === "bytes" ? formatBytes(value) : format === "rate" ? `${formatBytes(value)}/s` : String(value);
  }
}

const labels = { live: "Live", reconnecting: "Reconnecting…", refused: "Not available" };
const socket = watchContent(contentId, {
  onMessage(payload) {
    if (payload.type === "stats") showStats(payload);
    if (ingest && (payload.type === "ingest" || payload.type === "stats")) {
      ingest.show({ state: payload.state, progress: payload.progress, detail: payload.detail });
    }
  },
  onStatus(status) {
    if (!liveStatus) return;
    liveStatus.textContent = labels[status] || status;
    liveStatus.dataset.status = status;
  },
});

async function poll() {
  if (document.hidden) return;
  const url = panel ? panel.dataset.statsUrl : null;
  if (!url) return;
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) return;
  const stats = await response.json();
  // The socket's engine numbers are fresher; the web seed's come only from here.
  showStats(socket.open ? { webseed_bytes: stats.webseed_bytes } : stats);
  if (ingest && !socket.open) {
    ingest.show({ state: stats.state, progress: stats.hash_progress, detail: stats.state_detail });
  }
}
if (panel) window.setInterval(() => poll().catch(() => {}), 5000);
