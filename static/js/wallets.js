// @ts-check
// The wallet settings page: verifies the account selected in TronLink by signing this
// account's one-time challenge (TIP-191, `tronWeb.trx.signMessageV2`) and sending the address
// and signature to the API. Nothing here moves funds.

const TRONLINK_WAIT_MS = 3000; // TronLink injects itself shortly after the page loads

const section = /** @type {HTMLElement | null} */ (document.querySelector("[data-wallet-verify]"));

/**
 * The API's JSON answers (challenge, verification, refusal); fields missing where unused.
 * @typedef {{message?: string, address?: string, detail?: unknown}} Answer
 */
/** @typedef {(text: string, tone?: string) => void} Tell */

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

function injectedWallet() {
  return window.tronLink?.tronWeb || window.tronWeb || null;
}

/** @param {HTMLElement} section */
function csrfToken(section) {
  const field = /** @type {HTMLInputElement | null} */ (section.querySelector("input[name=csrfmiddlewaretoken]"));
  return field?.value ?? "";
}

/**
 * @param {HTMLElement} section
 * @param {string | undefined} url
 * @param {object} body
 * @returns {Promise<{status: number, answer: Answer}>}
 */
async function post(section, url, body) {
  const response = await fetch(String(url), {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(section) },
    body: JSON.stringify(body),
  });
  /** @type {Answer} */
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  return { status: response.status, answer };
}

/**
 * @param {number} status
 * @param {Answer} answer
 */
function refusal(status, answer) {
  const detail = typeof answer?.detail === "string" ? answer.detail : "";
  return `${location.host} refused it: ${detail || `error ${status}`}`;
}

/** @param {string} address */
function showWallet(address) {
  const list = document.querySelector("[data-wallet-list]");
  const empty = /** @type {HTMLElement | null} */ (document.querySelector("[data-wallets-empty]"));
  const template = /** @type {HTMLTemplateElement | null} */ (document.querySelector("template[data-wallet-row]"));
  if (!list || !template) return;
  for (const item of list.querySelectorAll("[data-wallet]")) {
    if (item.getAttribute("data-wallet") === address) item.remove();
  }
  const row = /** @type {HTMLElement} */ (template.content.firstElementChild?.cloneNode(true));
  row.dataset.wallet = address;
  /** @type {HTMLElement} */ (row.querySelector("code")).textContent = address;
  /** @type {HTMLInputElement} */ (row.querySelector("input[name=address]")).value = address;
  list.prepend(row);
  if (empty) empty.hidden = true;
}

/**
 * @param {HTMLElement} section
 * @param {Tell} tell
 */
async function verify(section, tell) {
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
  if (!tronWeb || !address) {
    tell("Unlock TronLink and choose an account, then try again.", "error");
    return;
  }
  const challenge = await post(section, section.dataset.challengeUrl, {});
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
  const verified = await post(section, section.dataset.verifyUrl, { address, signature });
  if (verified.status !== 201) {
    tell(refusal(verified.status, verified.answer), "error");
    return;
  }
  showWallet(verified.answer.address ?? address);
  tell(`Verified: ${address} is now one of your wallets.`, "ok");
}

/** @param {unknown} error */
function errorText(error) {
  const message = typeof error === "object" && error !== null && "message" in error ? error.message : "";
  return message ? String(message) : String(error);
}

/** @param {HTMLElement} section */
function setup(section) {
  const button = /** @type {HTMLButtonElement} */ (section.querySelector("[data-verify]"));
  const status = /** @type {HTMLElement} */ (section.querySelector("[data-wallet-status]"));
  /** @type {Tell} */
  const tell = (text, tone = "") => {
    status.textContent = text;
    status.dataset.tone = tone;
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    tell("Looking for TronLink…");
    try {
      await verify(section, tell);
    } catch (error) {
      tell(`Something went wrong: ${errorText(error)}`, "error");
    } finally {
      button.disabled = false;
    }
  });
}

if (section) setup(section);
