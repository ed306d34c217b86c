// @ts-check
// Tip alerts from /ws/overlay/<key>/ or /ws/live/<handle>/, delivered once each and in order.
//
// Every alert has a number (seq) that counts up per creator. The client remembers the last one
// it delivered; after a reconnect, or on seeing a number past the next one (a gap), it sends
// {"type": "resume", "after": last} and the server replays what came after. Repeats are dropped.
// With `contiguous` (the overlay, which hears every alert) a gap is waited for briefly and then
// skipped; without it (the live page, which does not hear test alerts) any newer number goes.
// An alert whose tip payment left the chain comes as {"type": "withdrawn", "seq"} (or, replayed,
// with "withdrawn": true): handlers.withdrawn is told, handlers.alert never is for it.
// Names and messages are text: callers put them in the page with textContent only.

const MAX_DELAY_MS = 15000;
const GAP_WAIT_MS = 3000;

// The messages, as support/events.py and support/consumers.py send them. Amounts are exact
// decimal strings.
/**
 * A creator's goal; "0" as `goal` when there is none.
 * @typedef {{title: string, token: string, goal: string, raised: string}} Goal
 */
/**
 * @typedef {object} Alert
 * @property {"alert"} type
 * @property {number} seq
 * @property {boolean} test
 * @property {string} name
 * @property {string} message
 * @property {string} token
 * @property {string} amount
 * @property {string} units
 * @property {number} tier
 * @property {string} created_at
 * @property {boolean} withdrawn its payment left the chain: numbered, never shown
 * @property {Goal} goal
 */
/** @typedef {{type: "withdrawn", seq: number, goal: Goal}} Withdrawn */
/** @typedef {{type: "hello", last_seq: number, goal: Goal | null, live: boolean, title: string}} Hello */
/** @typedef {{type: "live", live: boolean, title: string}} LiveState */
/**
 * @typedef {object} AlertHandlers
 * @property {(hello: Hello) => void} [hello]
 * @property {(alert: Alert) => void} [alert]
 * @property {(withdrawn: Withdrawn | Alert) => void} [withdrawn] a withdrawn message, or a replayed alert marked withdrawn
 * @property {(goal: Goal) => void} [goal]
 * @property {(state: LiveState) => void} [live]
 * @property {(status: "live" | "offline" | "closed") => void} [status]
 */

/**
 * @param {string | undefined} path the socket's path
 * @param {AlertHandlers} handlers
 * @param {{contiguous?: boolean, startAt?: number | null}} [options]
 */
export function alertStream(path, handlers, { contiguous = true, startAt = null } = {}) {
  /** @type {number | null} */
  let last = startAt;          // the last seq delivered; null until the first hello
  /** @type {Map<number, Alert>} */
  const waiting = new Map();   // seq -> alert, received ahead of a gap
  /** @type {number | null} */
  let gapTimer = null;
  let failures = 0;
  /** @type {WebSocket | null} */
  let socket = null;
  let stopped = false;

  /** @param {Alert} alert */
  const deliver = (alert) => {
    last = alert.seq;
    // A replayed alert whose payment left the chain since: numbered, never shown.
    if (alert.withdrawn) handlers.withdrawn?.(alert);
    else handlers.alert?.(alert);
  };

  // Only ever called with `last` set: received() sets it before anything waits.
  const drain = () => {
    while (waiting.size) {
      const next = contiguous ? Number(last) + 1 : Math.min(...waiting.keys());
      const alert = waiting.get(next);
      if (!alert) break;
      waiting.delete(next);
      deliver(alert);
    }
    for (const seq of waiting.keys()) if (seq <= Number(last)) waiting.delete(seq);
    if (waiting.size && !gapTimer) {
      // Ask for what is missing, then give up on it (replays are bounded) and move on.
      send({ type: "resume", after: last });
      gapTimer = setTimeout(() => {
        gapTimer = null;
        if (waiting.size) {
          last = Math.min(...waiting.keys()) - 1;
          drain();
        }
      }, GAP_WAIT_MS);
    } else if (!waiting.size && gapTimer) {
      clearTimeout(gapTimer);
      gapTimer = null;
    }
  };

  /** @param {Alert} alert */
  const received = (alert) => {
    if (!Number.isInteger(alert.seq) || (last !== null && alert.seq <= last)) return;
    if (last === null) last = alert.seq - 1;
    waiting.set(alert.seq, alert);
    drain();
  };

  /** @param {{type: "resume", after: number | null}} message */
  const send = (message) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}${path}`);
    socket.addEventListener("open", () => {
      failures = 0;
      handlers.status?.("live");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message === null || typeof message !== "object") return;
      if (message.type === "hello") {
        handlers.hello?.(message);
        if (last === null) last = message.last_seq;  // a fresh page starts from now
        else if (message.last_seq > last) send({ type: "resume", after: last });
      } else if (message.type === "alert") {
        received(message);
      } else if (message.type === "withdrawn") {
        handlers.goal?.(message.goal);
        handlers.withdrawn?.(message);
      } else if (message.type === "goal") {
        handlers.goal?.(message.goal);
      } else if (message.type === "live") {
        handlers.live?.(message);
      } else if (message.type === "revoked") {
        stopped = true;
      }
    });
    socket.addEventListener("close", (event) => {
      if (stopped || event.code === 4403 || event.code === 4401) {
        handlers.status?.("closed");
        return;
      }
      handlers.status?.("offline");
      failures += 1;
      setTimeout(connect, Math.min(MAX_DELAY_MS, 500 * 2 ** Math.min(failures, 5)));
    });
  };
  connect();
  return { get last() { return last; }, close() { stopped = true; socket?.close(); } };
}

// The goal bar (support/_goal.html): exact decimal strings from the server, turned into a
// fraction only to draw it.
/**
 * @param {ParentNode} root
 * @param {Goal | null | undefined} goal
 */
export function showGoal(root, goal) {
  const box = /** @type {HTMLElement | null} */ (root.querySelector("[data-goal]"));
  if (!box || !goal) return;
  /** @param {string} selector */
  const part = (selector) => /** @type {HTMLElement} */ (root.querySelector(selector));
  const target = Number(goal.goal);
  box.hidden = !(target > 0);
  part("[data-goal-title]").textContent = goal.title || "Goal";
  part("[data-goal-raised]").textContent = goal.raised;
  part("[data-goal-target]").textContent = goal.goal;
  const bar = /** @type {HTMLProgressElement} */ (part("[data-goal-bar]"));
  bar.value = target > 0 ? Math.min(1000, Math.round((Number(goal.raised) / target) * 1000)) : 0;
}

/** @param {ParentNode} root */
export function initialGoal(root) {
  const bar = /** @type {HTMLProgressElement | null} */ (root.querySelector("[data-goal-bar]"));
  if (!bar || !bar.dataset.goalUnits) return;
  const raised = BigInt(bar.dataset.raisedUnits ?? 0);
  const goal = BigInt(bar.dataset.goalUnits);
  bar.value = goal > 0n ? Number((raised * 1000n) / goal > 1000n ? 1000n : (raised * 1000n) / goal) : 0;
}
