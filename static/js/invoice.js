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
const DECIMALS = { BTT: 18, BTTOLD: 6 };
const TRONLINK_WAIT_MS = 3000; // TronLink injects itself shortly after the page loads

const page = document.querySelector("[data-invoice]");

// Exact amounts: base units are BigInt strings, never JavaScript numbers (BTT has 18 decimals).
function decimalString(units, decimals) {
  const digits = units.toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

const THANKS = {
  purchase: "Thank you! It is in your library now.",
  tip: "Thank you! The creator has your tip.",
  pledge: "Thank you for backing the campaign!",
};

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

function setup() {
  const data = page.dataset;
  const decimals = DECIMALS[data.token] ?? 18;
  const status = page.querySelector("[data-status]");
  const detail = page.querySelector("[data-detail]");
  const countdown = page.querySelector("[data-countdown]");
  const countdownValue = page.querySelector("[data-countdown-value]");
  const payPanel = page.querySelector("[data-pay-panel]");
  const next = page.querySelector("[data-next]");
  const restart = page.querySelector("[data-restart]");
  const amount = page.querySelector("[data-amount]");
  const amountField = page.querySelector("[data-amount-field]");
  const paidField = page.querySelector("[data-paid]");
  const walletStatus = page.querySelector("[data-wallet-status]");
  let remaining = BigInt(data.remainingUnits);
  let state = data.state;

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
    if (remaining > 0n) {
      amount.textContent = decimalString(remaining, decimals);
      amountField.value = amount.textContent;
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
    });
    socket.addEventListener("close", (event) => {
      page.dataset.live = "offline";
      if (event.code === FORBIDDEN) return;
      failures += 1;
      setTimeout(connect, Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(failures, 5)));
    });
  };
  connect();

  if (data.payer === "true") setupTronLink(data, tell, () => remaining, () => state);
}

// --- TronLink ---------------------------------------------------------------------------------

function injectedWallet() {
  return window.tronLink?.tronWeb || window.tronWeb || null;
}

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

async function claim(data, txid, signature = "") {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
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

async function signAndSend(data, remaining) {
  if (window.tronLink?.request) {
    const answer = await window.tronLink.request({ method: "tron_requestAccounts" });
    if (answer && answer.code === 4001) throw new Error("You declined the request in TronLink.");
  }
  const tronWeb = injectedWallet();
  const from = tronWeb?.defaultAddress?.base58;
  if (!from) throw new Error("Unlock TronLink and choose an account, then try again.");
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

async function setupTronLink(data, tell, remaining, state) {
  const button = page.querySelector("[data-tronlink]");
  const missing = page.querySelector("[data-tronlink-missing]");
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
      tell(error?.message || String(error), "error");
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

if (page) setup();
