// @ts-check
// A campaign's progress bar, live from /ws/campaign/<id>/ (amounts are exact decimal strings;
// the bar is drawn from base units the page gave it, and from the ratio the socket's strings give).

/**
 * The consumer's progress message (other types are ignored).
 * @typedef {{type: "progress", raised: string, goal: string, backers: number}} Progress
 */

/**
 * @param {HTMLElement} box the [data-campaign-socket] block
 * @param {{raised: Element, backers: Element, bar: HTMLProgressElement}} parts
 */
function watchCampaign(box, { raised, backers, bar }) {
  // Looked up when used: the noun beside the count, which must agree with it ("1 backer").
  const word = () => box.querySelector("[data-backers-word]");
  /** @param {Progress | {type: string}} message */
  const show = (message) => {
    if (message.type !== "progress") return;
    const progress = /** @type {Progress} */ (message);
    raised.textContent = progress.raised;
    backers.textContent = String(progress.backers);
    const noun = word();
    if (noun) noun.textContent = progress.backers === 1 ? "backer" : "backers";
    const goal = Number(progress.goal);
    const fraction = goal > 0 ? Math.min(1, Number(progress.raised) / goal) : 0;
    bar.max = 1000;
    bar.value = Math.round(fraction * 1000);
    box.dataset.live = "live";
  };

  const connect = (failures = 0) => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${box.dataset.campaignSocket}`);
    socket.addEventListener("message", (event) => {
      try {
        show(JSON.parse(event.data));
      } catch {
        // not for us
      }
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4403) return;
      setTimeout(() => connect(failures + 1), Math.min(15000, 1000 * 2 ** Math.min(failures, 4)));
    });
  };
  connect();
}

const box = /** @type {HTMLElement | null} */ (document.querySelector("[data-campaign-socket]"));
const raised = box?.querySelector("[data-raised]");
const backers = box?.querySelector("[data-backers]");
const bar = box?.querySelector("[data-progress-bar]");
if (box && raised && backers && bar instanceof HTMLProgressElement) watchCampaign(box, { raised, backers, bar });
