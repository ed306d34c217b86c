// @ts-check
// A pledge's page: its invoice's state live from /ws/invoice/<id>/, said as what it means for
// the pledge. The words come from the page (support/views.py, PLEDGE_WORDS), one data-say-*
// attribute a state, so the server's first render and this script never disagree. Once the
// pledge is paid (or lapsed) the way to pay is hidden: paying again would pay twice.

const FORBIDDEN = 4403; // the consumer's close code for someone who may not watch the invoice
const FINAL = new Set(["settled", "expired", "invalid"]);

/**
 * @param {HTMLElement} page the [data-pledge] element
 * @param {string} state the invoice's state
 */
function show(page, state) {
  const status = /** @type {HTMLElement | null} */ (page.querySelector("[data-pledge-status]"));
  const key = `say${state.charAt(0).toUpperCase()}${state.slice(1)}`;
  const words = status?.dataset[key];
  if (!status || words === undefined) return; // a state this page has no words for
  page.dataset.state = state;
  status.textContent = words;
  // Looked up each time: the payment block may have been rendered again since.
  for (const way of page.querySelectorAll("[data-pledge-pay]")) {
    if (way instanceof HTMLElement) way.hidden = state !== "new";
  }
}

/**
 * @param {HTMLElement} page
 * @param {string} invoice the invoice's id
 */
function follow(page, invoice, failures = 0) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/invoice/${invoice}/`);
  socket.addEventListener("open", () => {
    page.dataset.socket = "live";
    failures = 0;
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message && message.type === "invoice" && typeof message.state === "string") {
      show(page, message.state);
    }
  });
  socket.addEventListener("close", (event) => {
    page.dataset.socket = "closed";
    if (event.code === FORBIDDEN || FINAL.has(page.dataset.state ?? "")) return;
    const delay = Math.min(15000, 1000 * 2 ** Math.min(failures, 4));
    setTimeout(() => follow(page, invoice, failures + 1), delay);
  });
}

const page = /** @type {HTMLElement | null} */ (document.querySelector("[data-pledge]"));
const invoice = page?.dataset.invoice;
if (page && invoice && !FINAL.has(page.dataset.state ?? "")) follow(page, invoice);
