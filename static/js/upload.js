// @ts-check
// The upload page: files by drag and drop or the file picker, resumable tus uploads with a bar
// each (tus-js-client, loaded before this module as window.tus), Publish, then hashing and
// seeding live from /ws/content/<id>/. No inline scripts: everything comes from data attributes.

// Types come in through `@import` tags, not TypeScript's import types: the static files storage
// takes any import call with a quoted name, even in a comment, for one whose file it must hash.
/** @import * as ContentLive from "./content-live.js" */
/** @import { DetailedError, Upload } from "tus-js-client" */

const app = /** @type {HTMLElement} */ (document.getElementById("upload-app"));
/** @type {typeof ContentLive} */
const { formatBytes, watchContent, IngestView } = await import(/** @type {string} */ (app.dataset.liveModule));

const contentId = app.dataset.contentId;
const csrf = /** @type {HTMLInputElement | null} */ (app.querySelector("[name=csrfmiddlewaretoken]"))?.value || "";
const maxBytes = Number(app.dataset.maxBytes);
// The file list, the drop zone and the Publish form are there only while the content takes files.
const list = app.querySelector("[data-upload-list]");
const emptyNote = /** @type {HTMLElement | null} */ (app.querySelector("[data-empty]"));
const input = /** @type {HTMLInputElement | null} */ (app.querySelector("[data-file-input]"));
const dropzone = /** @type {HTMLElement | null} */ (app.querySelector("[data-dropzone]"));
const publishForm = /** @type {HTMLFormElement | null} */ (app.querySelector("[data-publish-form]"));
const publishButton = /** @type {HTMLButtonElement | null} */ (app.querySelector("[data-publish]"));
const publishError = /** @type {HTMLElement | null} */ (app.querySelector("[data-publish-error]"));
const publishWhy = /** @type {HTMLElement | null} */ (app.querySelector("[data-publish-why]"));
const ingestWrap = /** @type {HTMLElement} */ (app.querySelector("[data-ingest-wrap]"));
const doneNote = /** @type {HTMLElement} */ (app.querySelector("[data-done]"));
const ingest = new IngestView(/** @type {HTMLElement} */ (app.querySelector("[data-ingest]")));

/**
 * One entry per row of the list. `file` is there once the fan chose the file in this page (a row
 * the server listed has none until the same file is added again).
 * @typedef {object} Item
 * @property {HTMLElement} el
 * @property {string} name
 * @property {number} size
 * @property {"queued" | "uploading" | "done" | "interrupted" | "failed"} state
 * @property {string | null} [url]
 * @property {File} [file]
 * @property {Upload} [upload]
 */
/** @type {Item[]} */
const items = [];
/** @type {Item[]} */
const queue = [];
/** @type {Item | null} */
let uploading = null;
let publishing = false;

/** @param {unknown} error */
function errorText(error) {
  const message = typeof error === "object" && error !== null && "message" in error ? error.message : "";
  return message ? String(message) : String(error);
}

/**
 * @param {Item} item
 * @param {string} text
 */
function setStatus(item, text, kind = "") {
  const status = /** @type {HTMLElement} */ (item.el.querySelector("[data-status]"));
  status.textContent = text;
  status.className = `upload-status ${kind}`.trim();
}

/**
 * @param {Item} item
 * @param {number} sent
 * @param {number} total
 */
function setProgress(item, sent, total) {
  const bar = /** @type {HTMLProgressElement} */ (item.el.querySelector("progress"));
  bar.max = total || 1;
  bar.value = sent;
  /** @type {HTMLElement} */ (item.el.querySelector(".bar-value")).textContent =
    `${total ? Math.floor((sent / total) * 100) : 100}%`;
}

function refresh() {
  if (emptyNote) emptyNote.hidden = items.length > 0;
  if (!publishButton) return;
  const ready = items.length > 0 && items.every((item) => item.state === "done");
  publishButton.disabled = !ready || publishing;
  const waiting = items.filter((item) => item.state !== "done").length;
  // Said beside the button, not in a tooltip: a phone has no hover, a screen reader reads it
  // through the button's aria-describedby.
  if (publishWhy) {
    publishWhy.textContent = publishing || ready
      ? ""
      : waiting
        ? `${waiting} file${waiting === 1 ? " is" : "s are"} not uploaded yet: Publish waits for every file.`
        : "Add a file first: Publish waits for every file to be uploaded.";
  }
}

/**
 * @param {string} name
 * @param {number} size
 */
function makeRow(name, size) {
  const el = document.createElement("li");
  el.className = "upload-item";
  el.innerHTML = `
    <div class="upload-head"><span class="file-name"></span><span class="muted"></span></div>
    <div class="bar-row"><progress max="1" value="0"></progress><span class="bar-value">0%</span></div>
    <p class="upload-status" data-status></p>
    <div class="upload-actions">
      <button type="button" class="button small secondary" data-retry hidden>Retry</button>
      <button type="button" class="button small secondary" data-remove>Remove</button>
    </div>`;
  // textContent, never innerHTML, for anything a user named.
  /** @type {HTMLElement} */ (el.querySelector(".file-name")).textContent = name;
  /** @type {HTMLElement} */ (el.querySelector(".muted")).textContent = formatBytes(size);
  /** @type {HTMLProgressElement} */ (el.querySelector("progress")).setAttribute("aria-label", `Upload of ${name}`);
  for (const button of el.querySelectorAll("button")) {
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` ${name}`;
    button.append(hidden);
  }
  list?.append(el);
  return el;
}

/** @param {Item} item */
function bind(item) {
  /** @type {HTMLElement} */ (item.el.querySelector("[data-remove]")).addEventListener("click", () => remove(item));
  const retry = /** @type {HTMLElement | null} */ (item.el.querySelector("[data-retry]"));
  retry?.addEventListener("click", () => {
    retry.hidden = true;
    enqueue(item);
  });
}

// Rows the server already has (this page was left, or the connection dropped, earlier).
const listed = /** @type {NodeListOf<HTMLElement> | []} */ (list ? list.querySelectorAll(".upload-item") : []);
for (const el of listed) {
  const offset = Number(el.dataset.offset);
  const size = Number(el.dataset.length);
  /** @type {Item} */
  const item = {
    el,
    name: el.dataset.name ?? "",
    size,
    url: el.dataset.uploadUrl,
    state: offset === size ? "done" : "interrupted",
  };
  if (!el.querySelector("[data-status]")) continue;
  items.push(item);
  bind(item);
}

/** @param {File[]} files */
function add(files) {
  for (const file of files) {
    if (file.size > maxBytes) {
      /** @type {Item} */
      const item = { el: makeRow(file.name, file.size), name: file.name, size: file.size, state: "failed" };
      setStatus(item, `Too large: at most ${formatBytes(maxBytes)} per file.`, "error");
      items.push(item);
      bind(item);
      continue;
    }
    // The same file again: resume its interrupted upload, or skip a finished one.
    const known = items.find((item) => item.name === file.name && item.size === file.size && item.url);
    if (known && known.state === "done") {
      setStatus(known, "Uploaded (the same file was added again and skipped).");
      continue;
    }
    if (known && known.state === "interrupted") {
      known.file = file;
      enqueue(known);
      continue;
    }
    /** @type {Item} */
    const item = { el: makeRow(file.name, file.size), name: file.name, size: file.size, file, state: "queued" };
    items.push(item);
    bind(item);
    enqueue(item);
  }
  refresh();
}

/** @param {Item} item */
function enqueue(item) {
  item.state = "queued";
  setStatus(item, "Waiting…");
  queue.push(item);
  refresh();
  next();
}

function next() {
  if (uploading) return;
  const item = queue.shift();
  if (item) start(item);
}

/** @param {Error | DetailedError} error */
function failureMessage(error) {
  const response = error && "originalResponse" in error ? error.originalResponse : null;
  const body = response ? response.getBody() : "";
  if (body && body.length < 400) return body;
  return navigator.onLine === false ? "You are offline." : "The upload failed.";
}

/** @param {Item} item a queued one: the fan chose its file in this page */
function start(item) {
  uploading = item;
  item.state = "uploading";
  setStatus(item, "Uploading…");
  const started = Date.now();
  const upload = new window.tus.Upload(/** @type {File} */ (item.file), {
    endpoint: app.dataset.endpoint,
    uploadUrl: item.url || null,
    // Each PATCH is acknowledged only once fsynced: a drop loses at most one chunk.
    chunkSize: 16 * 1024 * 1024,
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
    metadata: { content_id: String(contentId), filename: item.name },
    headers: { "X-CSRFToken": csrf },
    // The page itself remembers uploads (the server lists them), not localStorage.
    storeFingerprintForResuming: false,
    onUploadUrlAvailable() {
      item.url = upload.url;
    },
    onShouldRetry(error) {
      const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
      // Refusals (too large, quota, published meanwhile) will not change by retrying.
      return !(status >= 400 && status < 500 && ![409, 423, 429].includes(status));
    },
    onProgress(sent, total) {
      setProgress(item, sent, total);
      const seconds = (Date.now() - started) / 1000;
      const speed = seconds > 0.5 ? ` · ${formatBytes(sent / seconds)}/s` : "";
      setStatus(item, `Uploading… ${formatBytes(sent)} of ${formatBytes(total)}${speed}`);
    },
    onSuccess() {
      item.state = "done";
      setProgress(item, item.size, item.size);
      setStatus(item, "Uploaded", "ok");
      uploading = null;
      refresh();
      next();
    },
    onError(error) {
      item.state = "failed";
      setStatus(item, failureMessage(error), "error");
      const retry = /** @type {HTMLElement | null} */ (item.el.querySelector("[data-retry]"));
      if (retry) retry.hidden = false;
      uploading = null;
      refresh();
      next();
    },
  });
  item.upload = upload;
  upload.start();
}

/** @param {Item} item */
async function remove(item) {
  const index = queue.indexOf(item);
  if (index >= 0) queue.splice(index, 1);
  try {
    if (item.upload && item.state === "uploading") {
      await item.upload.abort(true); // stops and deletes it on the server (tus termination)
      uploading = null;
    } else if (item.url) {
      const response = await fetch(item.url, {
        method: "DELETE",
        headers: { "Tus-Resumable": "1.0.0", "X-CSRFToken": csrf },
        credentials: "same-origin",
      });
      if (!response.ok && response.status !== 404) throw new Error(await response.text());
    }
  } catch (error) {
    setStatus(item, `Could not remove it: ${errorText(error)}`, "error");
    return;
  }
  items.splice(items.indexOf(item), 1);
  item.el.remove();
  refresh();
  next();
}

if (input) {
  input.addEventListener("change", () => {
    add(Array.from(input.files ?? []));
    input.value = "";
  });
}
if (dropzone) {
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("dragging"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    add(Array.from(event.dataTransfer?.files ?? []));
  });
}
window.addEventListener("beforeunload", (event) => {
  if (uploading) event.preventDefault(); // a reload would pause it (it resumes, but ask first)
});

// --- publishing and the live status ---------------------------------------------------------

/** @type {number | null} */
let polling = null;
// How far along publishing a state is. The page hears the state two ways, the socket and HTTP
// (Publish's answer, the polls), and neither waits for the other: a poll's "seeding" can
// arrive before the socket's last "hashing" progress events, or Publish's "hashing" after the
// socket's "seeding". Following whichever came last made a quick publish flicker seeding →
// hashing → seeding; on this page publishing only moves forward, so a step back is stale.
/** @type {Record<string, number>} */
const PROGRESS = { uploading: 0, hashing: 1, seeding: 2, unhealthy: 2, failed: 2 };
/** @param {ContentLive.ContentMessage} payload */
function follow(payload) {
  if (payload.type && payload.type !== "ingest" && payload.type !== "stats") return;
  const step = PROGRESS[payload.state ?? ""];
  if (step !== undefined && step < (PROGRESS[ingest.state ?? ""] ?? 0)) return;
  ingest.show({ state: payload.state, progress: payload.progress, detail: payload.detail });
  if (payload.state === "seeding" || payload.state === "unhealthy") {
    ingest.show({ progress: 1 });
    doneNote.hidden = false;
  }
  if (["seeding", "unhealthy", "failed"].includes(payload.state ?? "")) {
    if (polling !== null) window.clearInterval(polling);
    polling = null;
  }
}

// The socket is opened before Publish, so no event of a quick hashing is missed.
const socket = watchContent(contentId, { onMessage: follow });

async function pollOnce() {
  // Also the fallback while the socket is down: the content's state from the API.
  if (socket.open && polling === null) return;
  const response = await fetch(String(app.dataset.detailUrl), { credentials: "same-origin" });
  if (!response.ok) return;
  const content = await response.json();
  follow({ state: content.state, progress: content.hash_progress, detail: content.state_detail });
}

function startPolling() {
  if (polling === null) polling = window.setInterval(() => pollOnce().catch(() => {}), 2000);
}

if (publishForm && publishButton && publishError) {
  publishForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    publishing = true;
    refresh();
    publishError.hidden = true;
    publishButton.textContent = "Publishing…";
    try {
      const response = await fetch(String(app.dataset.publishUrl), {
        method: "POST",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.detail || `The server answered ${response.status}.`);
      publishForm.hidden = true;
      const steps = document.querySelectorAll(".steps li");
      for (const step of steps) step.removeAttribute("aria-current");
      steps[steps.length - 1]?.setAttribute("aria-current", "step");
      dropzone?.closest("section")?.setAttribute("hidden", "");
      ingestWrap.hidden = false;
      follow({ state: body.state, progress: body.hash_progress, detail: body.state_detail });
      startPolling();
      await pollOnce();
    } catch (error) {
      publishError.textContent = `Not published: ${errorText(error)}`;
      publishError.hidden = false;
      publishButton.textContent = "Publish";
      publishing = false;
      refresh();
    }
  });
}
if (app.dataset.state === "hashing") startPolling();
refresh();
