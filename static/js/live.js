// @ts-check
// The live page: the HLS player (hls.js where the browser has no HLS of its own), the live tip
// feed and the goal bar from /ws/live/<handle>/.
import { alertStream, initialGoal, showGoal } from "./alert-stream.js";

/** @import { Alert } from "./alert-stream.js" */

const page = /** @type {HTMLElement | null} */ (document.querySelector("[data-live-socket]"));
const video = /** @type {HTMLVideoElement | null} */ (document.querySelector("[data-hls-src]"));
if (video) {
  const source = String(video.dataset.hlsSrc);
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls();
    hls.loadSource(source);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source;
  }
}

const feed = /** @type {HTMLElement} */ (document.querySelector("[data-tip-feed]"));
const empty = /** @type {HTMLElement} */ (document.querySelector("[data-feed-empty]"));
const MAX_ITEMS = 50;

/** @param {Alert} alert */
function addTip(alert) {
  const item = document.createElement("li");
  item.className = `tip-item tier-${Number(alert.tier) || 1} fresh`;
  item.dataset.seq = String(alert.seq);
  const name = document.createElement("span");
  name.className = "tip-name";
  name.textContent = alert.name;
  const amount = document.createElement("strong");
  amount.className = "tip-amount";
  amount.textContent = `${alert.amount} ${alert.token}`;
  item.append(name, " ", amount);
  if (alert.message) {
    const message = document.createElement("span");
    message.className = "tip-message";
    message.textContent = alert.message;
    item.append(message);
  }
  feed.prepend(item);
  while (feed.children.length > MAX_ITEMS) feed.lastElementChild?.remove();
  empty.hidden = true;
}

initialGoal(document);
if (page) {
  const seen = Number(feed.dataset.lastSeq);
  alertStream(
    page.dataset.liveSocket,
    {
      hello: (hello) => showGoal(document, hello.goal),
      goal: (goal) => showGoal(document, goal),
      alert: (alert) => {
        showGoal(document, alert.goal);
        addTip(alert);
      },
      withdrawn: (withdrawn) => {
        // Its payment left the chain: the tip leaves the feed.
        feed.querySelector(`[data-seq="${Number(withdrawn.seq)}"]`)?.remove();
        empty.hidden = feed.children.length > 0;
      },
      live: (state) => {
        const badge = /** @type {HTMLElement} */ (document.querySelector("[data-live-state]"));
        badge.textContent = state.live ? "Live" : "The stream has ended";
      },
      status: (state) => { page.dataset.socket = state; },
    },
    // The page was rendered with the tips up to this one; the socket brings the rest.
    { contiguous: false, startAt: Number.isInteger(seen) ? seen : null },
  );
}
