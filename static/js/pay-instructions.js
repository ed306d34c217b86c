// @ts-check
// The payment block's copy buttons (templates/payments/_pay_instructions.html): each copies the
// exact text of its field and says so in the block's live region, so a fan on a phone pastes
// the amount into a wallet instead of typing it (and rounding it). Without the Clipboard API
// (a page served over plain http outside localhost, an older browser, a refused permission)
// the text is selected instead and the region says how to copy it by hand.

/**
 * Selects the text of `element`; tries the old copy command on it. True when it copied.
 * @param {HTMLElement} element
 */
function selectAndCopy(element) {
  const selection = window.getSelection();
  if (!selection) return false;
  const range = document.createRange();
  range.selectNodeContents(element);
  selection.removeAllRanges();
  selection.addRange(range);
  try {
    // Deprecated, but the only copy left where navigator.clipboard is missing.
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

/**
 * @param {HTMLElement} block the [data-pay-instruction] element
 */
function setup(block) {
  const status = /** @type {HTMLElement} */ (block.querySelector("[data-copy-status]"));
  /**
   * @param {string} text
   * @param {string} tone
   */
  const say = (text, tone) => {
    // Emptied first so that the same message twice is announced twice.
    status.textContent = "";
    status.dataset.tone = tone;
    requestAnimationFrame(() => {
      status.textContent = text;
    });
  };
  for (const button of block.querySelectorAll("button[data-copy]")) {
    if (!(button instanceof HTMLButtonElement)) continue;
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy ?? "");
      if (!field) return;
      // Read now: the amount changes live after a partial payment (invoice.js).
      const text = (field.textContent ?? "").trim();
      const copied = button.dataset.copied ?? "Copied";
      let done = false;
      if (navigator.clipboard && window.isSecureContext) {
        try {
          await navigator.clipboard.writeText(text);
          done = true;
        } catch {
          done = false;
        }
      }
      if (!done) done = selectAndCopy(field);
      for (const other of block.querySelectorAll("button[data-copy]")) {
        if (other instanceof HTMLElement) delete other.dataset.state;
      }
      if (done) {
        button.dataset.state = "copied";
        say(`${copied}: ${text}`, "copied");
      } else {
        // Left selected by selectAndCopy: one long press (or Ctrl+C) copies it.
        say(`Selected ${text}: press and hold it (or Ctrl+C) to copy.`, "manual");
      }
    });
  }
}

for (const block of document.querySelectorAll("[data-pay-instruction]")) {
  if (block instanceof HTMLElement) setup(block);
}
