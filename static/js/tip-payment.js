// @ts-check
// A tip's payment page: the invoice's state live from /ws/invoice/<id>/.
const box = /** @type {HTMLElement | null} */ (document.querySelector("[data-invoice]"));
const status = box?.querySelector("[data-status]");
/** @type {Record<string, string>} */
const WORDS = {
  new: "Waiting for your payment…",
  processing: "Paid: your tip is in a block and on its way to the stream.",
  settled: "Paid and final. Thank you!",
  expired: "This tip expired unpaid.",
  invalid: "The payment failed or left the chain.",
};

/**
 * @param {HTMLElement} box the [data-invoice] element
 * @param {Element} status where the state is said in words
 */
function connect(box, status, failures = 0) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/invoice/${box.dataset.invoice}/`);
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type !== "invoice" || !(message.state in WORDS)) return;
    box.dataset.state = message.state;
    status.textContent = WORDS[message.state];
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4403 || box.dataset.state === "settled") return;
    setTimeout(() => connect(box, status, failures + 1), Math.min(15000, 1000 * 2 ** Math.min(failures, 4)));
  });
}
if (box && status) connect(box, status);
