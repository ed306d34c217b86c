// @ts-check
// What the studio pages share about one content: its WebSocket (/ws/content/<id>/) with
// reconnection, the hashing-progress block, and byte formatting.
// Imported by the page modules through the hashed URL the template gives them, so a deploy
// never pairs a new page script with an old copy of this one.

/** @param {number | string} value a byte count */
export function formatBytes(value) {
  // As Django's filesizeformat, so server- and script-written numbers read the same.
  const n = Number(value) || 0;
  // A no-break space, as filesizeformat: a number never wraps away from its unit.
  if (n < 1024) return `${n}\u00a0byte${n === 1 ? "" : "s"}`;
  const units = ["KB", "MB", "GB", "TB", "PB"];
  let size = n / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(1)}\u00a0${units[unit]}`;
}

/** @param {string | undefined} state */
export function stateLabel(state) {
  return state ? state.charAt(0).toUpperCase() + state.slice(1) : "";
}

/**
 * A message of the content's socket: "ingest" (state, progress, detail) or "stats" (those and
 * the swarm's counters).
 * @typedef {{type?: string, state?: string, progress?: number, detail?: string} & Record<string, unknown>} ContentMessage
 */

/**
 * Connects, and reconnects with back-off until `stop()`; 4403 (not allowed) ends it.
 * @param {string | undefined} contentId
 * @param {{onMessage: (payload: ContentMessage) => void, onStatus?: (status: string) => void}} handlers
 */
export function watchContent(contentId, { onMessage, onStatus = () => {} }) {
  /** @type {WebSocket | null} */
  let socket = null;
  let attempt = 0;
  let stopped = false;
  /** @type {number | undefined} */
  let timer;
  const open = () => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/content/${contentId}/`);
    socket.addEventListener("open", () => {
      attempt = 0;
      onStatus("live");
    });
    socket.addEventListener("message", (event) => {
      let payload;
      try {
        payload = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(payload);
    });
    socket.addEventListener("close", (event) => {
      if (stopped) return;
      if (event.code === 4403) {
        onStatus("refused");
        return;
      }
      onStatus("reconnecting");
      timer = window.setTimeout(open, Math.min(15000, 500 * 2 ** attempt));
      attempt += 1;
    });
  };
  open();
  return {
    stop() {
      stopped = true;
      window.clearTimeout(timer);
      socket?.close();
    },
    get open() {
      return socket?.readyState === WebSocket.OPEN;
    },
  };
}

/** @type {Record<string, string>} */
const ANNOUNCEMENTS = {
  hashing: "Hashing the files.",
  seeding: "Published: the content is seeding.",
  failed: "Publishing failed.",
  unhealthy: "A file of this content has a problem.",
};

// The _ingest_status.html block: state, hashing bar, a polite announcement for screen readers.
// `data-history` keeps the states seen, in order (the page tests read it).
export class IngestView {
  /** @param {HTMLElement} root the _ingest_status.html block */
  constructor(root) {
    this.root = root;
    this.stateEl = /** @type {HTMLElement} */ (root.querySelector("[data-ingest-state]"));
    this.detailEl = /** @type {HTMLElement} */ (root.querySelector("[data-ingest-detail]"));
    this.barRow = /** @type {HTMLElement} */ (root.querySelector("[data-ingest-bar]"));
    this.bar = /** @type {HTMLProgressElement | null} */ (root.querySelector("[data-ingest-progress]"));
    this.percent = /** @type {HTMLElement} */ (root.querySelector("[data-ingest-percent]"));
    this.announce = /** @type {HTMLElement} */ (root.querySelector("[data-ingest-announce]"));
    this.state = root.dataset.state;
    this.root.dataset.history = this.state;
  }

  /** @param {{state?: string, progress?: unknown, detail?: string}} update */
  show({ state, progress, detail }) {
    if (typeof progress === "number" && this.bar) {
      this.bar.value = Math.max(0, Math.min(1, progress));
      this.percent.textContent = `${Math.floor(this.bar.value * 100)}%`;
    }
    if (state && state !== this.state) {
      this.state = state;
      this.root.dataset.state = state;
      this.root.dataset.history += ` ${state}`;
      this.stateEl.textContent = stateLabel(state);
      this.announce.textContent = ANNOUNCEMENTS[state] || stateLabel(state);
    }
    this.barRow.hidden = this.state !== "hashing";
    const problem = this.state === "failed" || this.state === "unhealthy";
    this.detailEl.textContent = problem ? detail || "" : "";
    this.detailEl.classList.toggle("error", problem);
  }
}
