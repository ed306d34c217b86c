// @ts-check
// The OBS browser source: tip alerts one after another (name, amount, message, a sound by
// tier) and the goal bar. Alerts arriving while one shows wait their turn.
import { alertStream, initialGoal, showGoal } from "./alert-stream.js";

/** @import { Alert } from "./alert-stream.js" */

/** @param {string} selector an element templates/support/overlay.html always has */
const part = (selector) => /** @type {HTMLElement} */ (document.querySelector(selector));
const body = document.body;
const box = part("[data-alert]");
const nameEl = part("[data-alert-name]");
const amountEl = part("[data-alert-amount]");
const messageEl = part("[data-alert-message]");
const statusEl = part("[data-overlay-status]");
/** @type {Alert[]} */
const queue = [];
let showing = false;
/** @type {AudioContext | null} */
let audio = null;

// A short chime made in the page (no file to fetch): higher and longer for bigger tiers.
/** @param {number} tier */
function chime(tier) {
  try {
    audio = audio || new AudioContext();
    const context = audio;
    const now = context.currentTime;
    const notes = [523.25, 659.25, 783.99, 1046.5].slice(0, Math.max(1, Math.min(4, tier)) + 1);
    notes.forEach((frequency, i) => {
      const osc = context.createOscillator();
      const gain = context.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.25, now + i * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.4);
      osc.connect(gain).connect(context.destination);
      osc.start(now + i * 0.12);
      osc.stop(now + i * 0.12 + 0.45);
    });
  } catch {
    // No audio output (or not allowed): the alert shows silently.
  }
}

function showNext() {
  const alert = queue.shift();
  if (!alert) {
    showing = false;
    box.hidden = true;
    return;
  }
  showing = true;
  nameEl.textContent = alert.name;
  amountEl.textContent = `${alert.amount} ${alert.token}`;
  messageEl.textContent = alert.message;
  messageEl.hidden = !alert.message;
  box.className = `alert tier-${Number(alert.tier) || 1}${alert.test ? " test" : ""}`;
  box.dataset.seq = String(alert.seq);
  box.hidden = false;
  body.dataset.shown = `${body.dataset.shown ? body.dataset.shown + "," : ""}${alert.seq}`;
  chime(Number(alert.tier) || 1);
  const duration = Number(body.dataset.alertMs) || 5000 + 1000 * (Number(alert.tier) || 1);
  setTimeout(showNext, duration);
}

initialGoal(document);
alertStream(body.dataset.overlaySocket, {
  hello: (hello) => showGoal(document, hello.goal),
  goal: (goal) => showGoal(document, goal),
  alert: (alert) => {
    showGoal(document, alert.goal);
    queue.push(alert);
    if (!showing) showNext();
  },
  withdrawn: (withdrawn) => {
    // Its payment left the chain: if still waiting its turn, it is not shown.
    const at = queue.findIndex((alert) => alert.seq === withdrawn.seq);
    if (at >= 0) queue.splice(at, 1);
  },
  status: (state) => {
    body.dataset.socket = state;
    statusEl.hidden = state === "live";
    statusEl.textContent = state === "closed" ? "This overlay URL was replaced; copy the new one from the studio." : "Reconnecting…";
  },
});
