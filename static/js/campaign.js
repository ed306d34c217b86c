// A campaign's progress bar, live from /ws/campaign/<id>/ (amounts are exact decimal strings;
// the bar is drawn from base units the page gave it, and from the ratio the socket's strings give).
const box = document.querySelector("[data-campaign-socket]");
const raised = box?.querySelector("[data-raised]");
const backers = box?.querySelector("[data-backers]");
const bar = box?.querySelector("[data-progress-bar]");

function show(message) {
  if (message.type !== "progress") return;
  raised.textContent = message.raised;
  backers.textContent = String(message.backers);
  const goal = Number(message.goal);
  const fraction = goal > 0 ? Math.min(1, Number(message.raised) / goal) : 0;
  bar.max = 1000;
  bar.value = Math.round(fraction * 1000);
  box.dataset.live = "live";
}

function connect(failures = 0) {
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
}
if (box) connect();
