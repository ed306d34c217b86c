// Swarm health, live: engine heartbeats and content turning unhealthy or healthy again arrive
// on /ws/staff/health/ and update the tables the page was rendered with. A node whose
// heartbeat stops arriving turns "stale" after the page's stale window.

const MAX_DELAY_MS = 30000;
const FORBIDDEN = 4403;
const root = document.querySelector("[data-swarm-health]");

function formatSize(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function formatRate(bytes) {
  return `${formatSize(bytes)}/s`;
}

function nodeRow(name) {
  const body = root.querySelector("[data-nodes] tbody");
  for (const row of body.querySelectorAll("tr[data-node]")) {
    if (row.dataset.node === name) return row;
  }
  body.querySelector("[data-no-nodes]")?.remove();
  const row = document.createElement("tr");
  row.dataset.node = name;
  for (const field of ["name", "status", "last_heartbeat", "listen_address", "torrents", "peers", "upload_rate", "free_bytes", "draining"]) {
    const cell = document.createElement("td");
    cell.dataset.field = field;
    row.append(cell);
  }
  row.querySelector('[data-field="name"]').textContent = name;
  body.append(row);
  return row;
}

function showNode(event) {
  const row = nodeRow(event.name);
  const set = (field, text) => {
    row.querySelector(`[data-field="${field}"]`).textContent = text;
  };
  set("status", event.status);
  set("last_heartbeat", event.last_heartbeat ? new Date(event.last_heartbeat).toLocaleString() : "never");
  set("listen_address", event.listen_address);
  set("torrents", String(event.torrents));
  set("peers", String(event.peers));
  set("upload_rate", formatRate(event.upload_rate));
  set("free_bytes", event.free_bytes === null ? "unknown" : formatSize(event.free_bytes));
  set("draining", event.draining_since ? `since ${new Date(event.draining_since).toLocaleString()}` : "no");
  row.querySelector('[data-field="draining"]').dataset.draining = event.draining_since ? "yes" : "no";
  row.dataset.status = event.status;
  row.dataset.seen = String(Date.now());
}

function showContent(event) {
  const list = root.querySelector("[data-unhealthy]");
  let item = list.querySelector(`li[data-content-id="${event.content_id}"]`);
  if (event.state !== "unhealthy") {
    item?.remove();
    return;
  }
  list.querySelector("[data-all-healthy]")?.remove();
  if (!item) {
    item = document.createElement("li");
    item.dataset.contentId = String(event.content_id);
    const link = document.createElement("a");
    link.href = `/content/${event.content_id}/`;
    link.textContent = `content ${event.content_id}`;
    item.append(link, document.createTextNode(""));
    list.append(item);
  }
  item.lastChild.textContent = `: ${event.detail}`;
}

function markStale() {
  const staleMs = Number(root.dataset.staleSeconds) * 1000;
  for (const row of root.querySelectorAll("tr[data-node][data-seen]")) {
    if (row.dataset.status === "up" && Date.now() - Number(row.dataset.seen) > staleMs) {
      row.dataset.status = "stale";
      row.querySelector('[data-field="status"]').textContent = "stale";
    }
  }
}

function connect(failures) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/staff/health/`);
  socket.addEventListener("open", () => {
    failures = 0;
    root.dataset.live = "live";
  });
  socket.addEventListener("message", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.type === "node") showNode(event);
    else if (event.type === "content") showContent(event);
  });
  socket.addEventListener("close", (event) => {
    root.dataset.live = event.code === FORBIDDEN ? "closed" : "offline";
    if (event.code === FORBIDDEN) return;
    setTimeout(() => connect(failures + 1), Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(failures + 1, 5)));
  });
}

if (root) {
  for (const row of root.querySelectorAll("tr[data-node]")) row.dataset.seen = String(Date.now());
  setInterval(markStale, 1000);
  connect(0);
}
