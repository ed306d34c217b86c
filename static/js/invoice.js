// @ts-check
// The invoice page: follows the invoice live on /ws/invoice/<id>/ (a snapshot on every
// connection, so a reconnect misses nothing), counts down the time the amount is held, and
// pays through TronLink when the browser has it, then tells the platform the txid (the claim)
// so the payment is proven at once instead of when the chain watcher reaches its block. A claim
// counts only for a sender the fan controls: TronLink signs the page's claim message for the
// txid (TIP-191, `trx.signMessageV2`) unless the sending address is one of the fan's verified
// wallets. Declining costs nothing: the transfer carries the invoice's unique amount, which
// matches it anyway.

const FORBIDDEN = 4403; // the consumer's close code for someone who may not watch the invoice
const MAX_DELAY_MS = 30000;
const FEE_LIMIT_SUN = 100_000_000; // 100 TRX: a TRC-20 transfer's energy cap, never all spent
/** @type {Record<string, number>} */
const DECIMALS = { BTT: 18, BTTOLD: 6 };
const TRONLINK_WAIT_MS = 3000; // TronLink injects itself shortly after the page loads

const page = /** @type {HTMLElement | null} */ (document.querySelector("[data-invoice]"));

/**
 * The page's data attributes: templates/payments/invoice.html writes every one of them (empty
 * where it does not apply, e.g. no contract for a TRC-10 token).
 * @typedef {object} InvoiceData
 * @property {string} invoice the invoice's id
 * @property {string} kind purchase, tip or pledge
 * @property {string} state
 * @property {string} websocket
 * @property {string} claimUrl
 * @property {string} claimMessage the message to sign, with "{txid}" in it; empty: no claim
 * @property {string} walletsUrl
 * @property {string} payTo
 * @property {string} token
 * @property {string} contract the TRC-20 contract; empty for a TRC-10 token
 * @property {string} tokenId the TRC-10 asset id
 * @property {string} remainingUnits base units still due
 * @property {string} secondsLeft
 * @property {string} payer "true" when this viewer pays the invoice
 */

/**
 * What /ws/invoice/<id>/ sends (payments/events.py, InvoiceUpdate): amounts are strings, decimal
 * for people and base units for wallets.
 * @typedef {object} InvoiceUpdate
 * @property {"invoice"} type
 * @property {string} event
 * @property {string} id
 * @property {string} state
 * @property {boolean} partial
 * @property {boolean} over
 * @property {boolean} late
 * @property {string} token
 * @property {string} amount_due
 * @property {string} amount_paid
 * @property {string} amount_due_units
 * @property {string} amount_paid_units
 * @property {string} txid
 * @property {string} detail
 */

/** @typedef {(text: string, tone?: string) => void} Tell */

// Exact amounts: base units are BigInt strings, never JavaScript numbers (BTT has 18 decimals).
/**
 * @param {bigint} units
 * @param {number} decimals
 */
function decimalString(units, decimals) {
  const digits = units.toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** @param {number} seconds */
function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

/** @type {Record<string, string>} */
const THANKS = {
  purchase: "Thank you! It is in your library now.",
  tip: "Thank you! The creator has your tip.",
  pledge: "Thank you for backing the campaign!",
};

/**
 * The headline and the detail that say where the invoice stands.
 * @param {InvoiceUpdate} invoice
 * @param {string} kind
 * @returns {[string, string]}
 */
function statusFor(invoice, kind) {
  const due = `${invoice.amount_due} ${invoice.token}`;
  const paid = `${invoice.amount_paid} ${invoice.token}`;
  switch (invoice.state) {
    case "new":
      return invoice.partial
        ? ["Part of the payment has arrived.", `Received ${paid} of ${due}. Send the rest below to complete it.`]
        : ["Waiting for your payment.", ""];
    case "processing":
      return [
        "Payment received in a block; waiting for the network to confirm it.",
        "This takes about a minute. You can leave this page: it is yours once confirmed.",
      ];
    case "settled":
      return [
        "Paid and confirmed.",
        invoice.over
          ? `You sent ${paid}, more than the ${due} asked; the difference went to the creator, who can refund it.`
          : THANKS[kind] ?? THANKS.purchase,
      ];
    case "expired":
      return invoice.late
        ? [
            "Your payment arrived after the invoice expired.",
            `Received ${paid}: it is recorded, and the creator can accept it or refund it.`,
          ]
        : ["This invoice expired before a payment arrived.", "Nothing was taken from you."];
    default:
      return [
        "The payment failed or was dropped from the chain.",
        "A transfer that failed moved no BTT; start a new payment to try again.",
      ];
  }
}

/** @param {HTMLElement} page the [data-invoice] element */
function setup(page) {
  const data = /** @type {InvoiceData} */ (page.dataset);
  const decimals = DECIMALS[data.token] ?? 18;
  /** @param {string} selector an element the template always renders */
  const part = (selector) => /** @type {HTMLElement} */ (page.querySelector(selector));
  const status = part("[data-status]");
  const detail = part("[data-detail]");
  const countdown = part("[data-countdown]");
  const countdownValue = part("[data-countdown-value]");
  const payPanel = part("[data-pay-panel]");
  const next = part("[data-next]");
  const restart = part("[data-restart]");
  const amount = part("[data-amount]");
  const paidField = part("[data-paid]");
  // Only the payer's page has the TronLink block.
  const walletStatus = /** @type {HTMLElement | null} */ (page.querySelector("[data-wallet-status]"));
  let remaining = BigInt(data.remainingUnits);
  let state = data.state;

  /** @type {Tell} */
  const tell = (text, tone = "") => {
    if (!walletStatus) return;
    walletStatus.textContent = text;
    walletStatus.dataset.tone = tone;
  };

  // Held for: counted from the server's figure, so a wrong clock on this device does not
  // matter.
  const deadline = Date.now() + Number(data.secondsLeft) * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    countdownValue.textContent = clock(left);
    if (left === 0 && state === "new") {
      countdown.textContent =
        "Time is up. A payment sent now is still recorded, but the creator has to accept it.";
      return;
    }
    if (left > 0) setTimeout(tick, 1000 - ((deadline - Date.now()) % 1000));
  };
  if (state === "new") tick();

  /** @param {InvoiceUpdate} invoice */
  const show = (invoice) => {
    state = invoice.state;
    page.dataset.state = state;
    // The wallet's transaction cannot pay it (failed, another amount, ...): paying again from
    // this page is allowed once more.
    if (invoice.event === "claim_refused") page.dispatchEvent(new CustomEvent("claim-refused"));
    const [headline, more] = statusFor(invoice, data.kind);
    status.textContent = headline;
    detail.textContent = invoice.event === "claim_refused" && invoice.detail
      ? `The transaction your wallet sent cannot pay this invoice: ${invoice.detail}.`
      : more;
    paidField.textContent = `${invoice.amount_paid} ${invoice.token}`;
    remaining = BigInt(invoice.amount_due_units) - BigInt(invoice.amount_paid_units);
    // Written only when it changed: rewriting the same text drops a selection the fan made
    // on it (the copy button selects it where there is no Clipboard API).
    const due = decimalString(remaining, decimals);
    if (remaining > 0n && amount.textContent !== due) {
      amount.textContent = due;
    }
    payPanel.hidden = state !== "new";
    countdown.hidden = state !== "new";
    next.hidden = state !== "settled";
    restart.hidden = !(state === "expired" || state === "invalid");
  };

  let failures = 0;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${data.websocket}`);
    socket.addEventListener("open", () => {
      failures = 0;
      page.dataset.live = "live";
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "invoice" && message.id === data.invoice) show(message);
      if (message.type === "near_miss" && message.id === data.invoice) showNearMiss(page, message);
    });
    socket.addEventListener("close", (event) => {
      page.dataset.live = "offline";
      if (event.code === FORBIDDEN) return;
      failures += 1;
      setTimeout(connect, Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(failures, 5)));
    });
  };
  connect();

  if (data.payer === "true") setupTronLink(page, data, tell, () => remaining, () => state);
}

// --- transfers that nearly paid it (payments/near_misses.py) ---------------------------------

/**
 * What /ws/invoice/<id>/ sends about a transfer to the creator's address that paid nothing but
 * may be this fan's (NearMissUpdate): the txid only when it came from the payer's own wallet.
 * @typedef {object} NearMiss
 * @property {"near_miss"} type
 * @property {string} id
 * @property {string} key
 * @property {string} amount
 * @property {string} token
 * @property {string} amount_due
 * @property {boolean} from_payer
 * @property {string} txid
 */

/**
 * Says what arrived and what to do, in the words of templates/payments/_near_miss.html; once
 * per transfer (the watcher tells again when its block is solidified, the snapshot on every
 * connection).
 * @param {HTMLElement} page
 * @param {NearMiss} miss
 */
function showNearMiss(page, miss) {
  const box = /** @type {HTMLElement | null} */ (page.querySelector("[data-near-misses]"));
  const list = box?.querySelector("[data-near-miss-list]");
  if (!box || !list) return;
  if ([...list.querySelectorAll("[data-near-miss]")].some((e) => e instanceof HTMLElement && e.dataset.nearMiss === miss.key)) return;
  const creator = box.dataset.creator ?? "the creator";
  const sent = `${miss.amount} ${miss.token}`;
  const due = `${miss.amount_due} ${miss.token}`;
  const item = document.createElement("div");
  item.className = "near-miss";
  item.dataset.nearMiss = miss.key;
  const first = document.createElement("p");
  const strong = document.createElement("strong");
  const whose = box.dataset.payer === "true" ? "your" : "the payer's";
  strong.textContent = miss.from_payer
    ? `A transfer of ${sent} reached ${creator}'s address from ${whose} wallet (transaction ${miss.txid}), but it is not the ${due} this invoice asks for, so it does not pay it.`
    : `A transfer of ${sent} reached ${creator}'s address, but it is not the ${due} this invoice asks for, so it does not pay it.`;
  first.append(strong);
  if (!miss.from_payer) first.append(" If you sent it, this is about your payment.");
  const second = document.createElement("p");
  second.textContent =
    `Sending the difference does not work: only a transfer of exactly the amount asked is recognised. ` +
    `The ${sent} went straight to ${creator}'s own wallet (this site never holds money). ` +
    `To finish, send exactly ${due} with the Copy amount button, and ask ${creator} to refund the wrong transfer; ` +
    `quote this invoice's number so it can be found.`;
  item.append(first, second);
  list.append(item);
  box.hidden = false;
}

// --- TronLink ---------------------------------------------------------------------------------

function injectedWallet() {
  return window.tronLink?.tronWeb || window.tronWeb || null;
}

/** @returns {Promise<boolean>} */
function waitForWallet() {
  return new Promise((resolve) => {
    const started = Date.now();
    const look = () => {
      if (window.tronLink || window.tronWeb) resolve(true);
      else if (Date.now() - started > TRONLINK_WAIT_MS) resolve(false);
      else setTimeout(look, 100);
    };
    look();
  });
}

/**
 * Tells the platform which transaction pays the invoice; "" when accepted, else the refusal.
 * @param {InvoiceData} data
 * @param {string} txid
 */
async function claim(data, txid, signature = "") {
  const field = /** @type {HTMLInputElement | null} */ (document.querySelector("input[name=csrfmiddlewaretoken]"));
  const token = field?.value ?? "";
  const body = signature ? { txid, signature } : { txid };
  const response = await fetch(data.claimUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(body),
  });
  if (response.status === 202) return "";
  try {
    return (await response.json()).detail || `error ${response.status}`;
  } catch {
    return `error ${response.status}`;
  }
}

/**
 * @param {InvoiceData} data
 * @param {bigint} remaining base units to send
 * @returns {Promise<{txid: string, from: string}>}
 */
async function signAndSend(data, remaining) {
  if (window.tronLink?.request) {
    const answer = await window.tronLink.request({ method: "tron_requestAccounts" });
    if (answer && answer.code === 4001) throw new Error("You declined the request in TronLink.");
  }
  const tronWeb = injectedWallet();
  const from = tronWeb?.defaultAddress?.base58;
  if (!tronWeb || !from) throw new Error("Unlock TronLink and choose an account, then try again.");
  let transaction;
  if (data.contract) {
    const built = await tronWeb.transactionBuilder.triggerSmartContract(
      data.contract,
      "transfer(address,uint256)",
      { feeLimit: FEE_LIMIT_SUN },
      [
        { type: "address", value: data.payTo },
        { type: "uint256", value: remaining.toString() },
      ],
      from,
    );
    if (!built?.result?.result) throw new Error("TronLink could not prepare the transfer.");
    transaction = built.transaction;
  } else {
    if (remaining > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("This amount is too large for a TRC-10 transfer.");
    transaction = await tronWeb.transactionBuilder.sendToken(data.payTo, Number(remaining), data.tokenId, from);
  }
  const signed = await tronWeb.trx.sign(transaction);
  const sent = await tronWeb.trx.sendRawTransaction(signed);
  if (!sent?.result) {
    const reason = sent?.message ? tronWeb.toUtf8(sent.message) : sent?.code || "refused";
    throw new Error(`The network refused the transfer: ${reason}.`);
  }
  return { txid: signed.txID, from };
}

// The fan's verified wallets (their claims need no signature); empty when unknown.
/**
 * @param {InvoiceData} data
 * @returns {Promise<string[]>}
 */
async function verifiedWallets(data) {
  if (!data.walletsUrl) return [];
  try {
    const response = await fetch(data.walletsUrl, { credentials: "same-origin" });
    if (!response.ok) return [];
    const wallets = await response.json();
    return Array.isArray(wallets) ? wallets.map((wallet) => wallet.address) : [];
  } catch {
    return [];
  }
}

// The claim message signed by the sending account: "" when the fan declines (or the wallet
// cannot sign messages), null when no signature is needed.
/**
 * @param {InvoiceData} data
 * @param {string} txid
 * @param {string} from the sending address
 * @param {() => void} asking called just before TronLink asks the fan
 * @returns {Promise<string | null>}
 */
async function claimSignature(data, txid, from, asking) {
  if (!data.claimMessage) return null;
  if ((await verifiedWallets(data)).includes(from)) return null;
  const tronWeb = injectedWallet();
  if (typeof tronWeb?.trx?.signMessageV2 !== "function") return "";
  const message = data.claimMessage.split("{txid}").join(txid.toLowerCase());
  asking();
  try {
    const signature = await tronWeb.trx.signMessageV2(message);
    return typeof signature === "string" ? signature : "";
  } catch {
    return "";
  }
}

// What this page sent, kept for a reload: {txid, signature, pending} (pending: the page was
// left while TronLink asked for the signature); older pages kept the bare txid.
/** @typedef {{txid: string, signature: string | null, pending?: boolean}} Sent */
/**
 * @param {string} key
 * @returns {Sent | null}
 */
function readSent(key) {
  const stored = sessionStorage.getItem(key);
  if (!stored) return null;
  try {
    const sent = JSON.parse(stored);
    if (sent && typeof sent.txid === "string") return sent;
  } catch {
    // a bare txid
  }
  return { txid: stored, signature: null };
}

/** @param {unknown} error */
function errorText(error) {
  const message = typeof error === "object" && error !== null && "message" in error ? error.message : "";
  return message ? String(message) : String(error);
}

/**
 * The "Pay with TronLink" button, on the payer's page.
 * @param {HTMLElement} page
 * @param {InvoiceData} data
 * @param {Tell} tell
 * @param {() => bigint} remaining base units still due
 * @param {() => string} state the invoice's state now
 */
async function setupTronLink(page, data, tell, remaining, state) {
  const button = /** @type {HTMLButtonElement} */ (page.querySelector("[data-tronlink]"));
  const missing = /** @type {HTMLElement} */ (page.querySelector("[data-tronlink-missing]"));
  const sentKey = `invoice-sent:${data.invoice}`;
  const sentBefore = readSent(sentKey);
  if (sentBefore) {
    // This page already paid once, then was reloaded: no second payment unless the first one
    // is refused. The claim is sent again in case the reload cut it off (it is idempotent).
    tell(`Sent from this page: transaction ${sentBefore.txid.slice(0, 12)}…; waiting for its block.`);
    if (!sentBefore.pending && sentBefore.signature !== "") {
      claim(data, sentBefore.txid, sentBefore.signature ?? "");
    }
  }
  if (!(await waitForWallet())) return;
  missing.hidden = true;
  button.hidden = false;
  button.disabled = Boolean(sentBefore);
  page.addEventListener("claim-refused", () => {
    sessionStorage.removeItem(sentKey);
    button.disabled = false;
  });
  button.addEventListener("click", async () => {
    if (state() !== "new") return;
    button.disabled = true;
    tell("Confirm the payment in TronLink…");
    let sent;
    try {
      sent = await signAndSend(data, remaining());
    } catch (error) {
      tell(errorText(error), "error");
      button.disabled = false;
      return;
    }
    const { txid, from } = sent;
    const short = `${txid.slice(0, 12)}…`;
    sessionStorage.setItem(sentKey, JSON.stringify({ txid, signature: null, pending: true }));
    const signature = await claimSignature(data, txid, from, () =>
      tell(`Sent: transaction ${short}; sign the message in TronLink to show that the payment is yours…`),
    );
    sessionStorage.setItem(sentKey, JSON.stringify({ txid, signature }));
    if (signature === "") {
      // No claim: an unsigned claim from an unverified wallet would be refused, and the
      // unique amount names this invoice anyway.
      tell(
        `Sent: transaction ${short}; you did not sign, which is fine: it carries this invoice's exact amount and is matched to it when its block arrives.`,
      );
      return;
    }
    tell(`Sent: transaction ${short}; telling ${location.host} about it…`);
    const problem = await claim(data, txid, signature ?? "");
    tell(
      problem
        ? `Sent (transaction ${short}), and it will be found in its block, but: ${problem}`
        : `Sent: transaction ${short}; waiting for its block.`,
      problem ? "error" : "",
    );
  });
}

if (page) setup(page);
