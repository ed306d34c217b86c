// Live public swarm counters (peers, seeds) of a content from /ws/content/<id>/. Each counter
// connects once it scrolls into view, so a long library does not open a socket per item up
// front, and reconnects with a growing delay when the connection drops.

const MAX_DELAY_MS = 30000;
const FORBIDDEN = 4403;  // the consumer's close code when this viewer may not watch the content

// A number and its noun, in agreement: "1 seed", "2 seeds".
function count(number, word, value, noun) {
  if (!number || !Number.isInteger(value)) return;
  number.textContent = String(value);
  if (word) word.textContent = value === 1 ? noun : `${noun}s`;
}

// What a buyer is told (templates/swarm/counters.html says the same on load): the platform's
// web seed always serves the files; other seeds are fans sharing them too.
function plainly(seeds) {
  return `Available — served by the platform${seeds > 1 ? ", and shared by other fans too" : ""}.`;
}

function watch(element) {
  const peers = element.querySelector("[data-swarm-peers]");
  const seeds = element.querySelector("[data-swarm-seeds]");
  const live = element.querySelector("[data-swarm-live]");
  const peersWord = element.querySelector("[data-swarm-peers-word]");
  const seedsWord = element.querySelector("[data-swarm-seeds-word]");
  const words = element.querySelector("[data-swarm-words]");  // a buyer's plain words
  let failures = 0;

  const mark = (state) => {
    element.dataset.live = state;
    if (live) live.textContent = state === "live" ? "live" : state === "offline" ? "reconnecting…" : "";
  };

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${element.dataset.swarmCounters}`);
    socket.addEventListener("open", () => {
      failures = 0;
      mark("live");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type !== "stats") return;
      if (words && Number.isInteger(message.seeds)) words.textContent = plainly(message.seeds);
      count(peers, peersWord, message.peers, "peer");
      count(seeds, seedsWord, message.seeds, "seed");
    });
    socket.addEventListener("close", (event) => {
      if (event.code === FORBIDDEN) {
        mark("closed");
        return;
      }
      mark("offline");
      failures += 1;
      setTimeout(connect, Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(failures, 5)));
    });
  };
  connect();
}

const counters = document.querySelectorAll("[data-swarm-counters]");
if ("IntersectionObserver" in window) {
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        observer.unobserve(entry.target);
        watch(entry.target);
      }
    }
  });
  for (const element of counters) observer.observe(element);
} else {
  for (const element of counters) watch(element);
}
