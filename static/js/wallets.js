// The wallet settings page: verifies the account selected in TronLink by signing this
// account's one-time challenge (TIP-191, `tronWeb.trx.signMessageV2`) and sending the address
// and signature to the API. Nothing here moves funds.

const TRONLINK_WAIT_MS = 3000; // TronLink injects itself shortly after the page loads

const section = document.querySelector("[data-wallet-verify]");

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

function injectedWallet() {
  return window.tronLink?.tronWeb || window.tronWeb || null;
}

function csrfToken() {
  return section.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  return { status: response.status, answer };
}

function refusal(status, answer) {
  const detail = typeof answer?.detail === "string" ? answer.detail : "";
  return `${location.host} refused it: ${detail || `error ${status}`}`;
}

function showWallet(address) {
  const list = document.querySelector("[data-wallet-list]");
  const empty = document.querySelector("[data-wallets-empty]");
  const template = document.querySelector("template[data-wallet-row]");
  if (!list || !template) return;
  for (const item of list.querySelectorAll("[data-wallet]")) {
    if (item.dataset.wallet === address) item.remove();
  }
  const row = template.content.firstElementChild.cloneNode(true);
  row.dataset.wallet = address;
  row.querySelector("code").textContent = address;
  row.querySelector("input[name=address]").value = address;
  list.prepend(row);
  if (empty) empty.hidden = true;
}

async function verify(tell) {
  if (!(await waitForWallet())) {
    tell(
      "TronLink was not found: install the TronLink extension, or open this page in TronLink's own browser.",
      "error",
    );
    return;
  }
  if (window.tronLink?.request) {
    const answer = await window.tronLink.request({ method: "tron_requestAccounts" });
    if (answer && answer.code === 4001) {
      tell("You declined the request in TronLink; nothing was verified.", "error");
      return;
    }
  }
  const tronWeb = injectedWallet();
  const address = tronWeb?.defaultAddress?.base58;
  if (!address) {
    tell("Unlock TronLink and choose an account, then try again.", "error");
    return;
  }
  const challenge = await post(section.dataset.challengeUrl, {});
  if (challenge.status !== 201 || typeof challenge.answer.message !== "string") {
    tell(refusal(challenge.status, challenge.answer), "error");
    return;
  }
  tell(`Sign the message in TronLink to verify ${address}…`);
  let signature;
  try {
    signature = await tronWeb.trx.signMessageV2(challenge.answer.message);
  } catch {
    tell("You declined to sign in TronLink; nothing was verified.", "error");
    return;
  }
  if (typeof signature !== "string" || !signature) {
    tell("TronLink returned no signature; nothing was verified.", "error");
    return;
  }
  const verified = await post(section.dataset.verifyUrl, { address, signature });
  if (verified.status !== 201) {
    tell(refusal(verified.status, verified.answer), "error");
    return;
  }
  showWallet(verified.answer.address ?? address);
  tell(`Verified: ${address} is now one of your wallets.`, "ok");
}

function setup() {
  const button = section.querySelector("[data-verify]");
  const status = section.querySelector("[data-wallet-status]");
  const tell = (text, tone = "") => {
    status.textContent = text;
    status.dataset.tone = tone;
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    tell("Looking for TronLink…");
    try {
      await verify(tell);
    } catch (error) {
      tell(`Something went wrong: ${error?.message || String(error)}`, "error");
    } finally {
      button.disabled = false;
    }
  });
}

if (section) setup();
