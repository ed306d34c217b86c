// Downloads a content in the browser through its BEP 19 web seed: parallel Range requests,
// every v1 piece checked with WebCrypto's SHA-1 against the torrent's piece hashes before it is
// kept, automatic retries after a dropped connection (verified pieces stay), then the file(s)
// saved through object URLs. Loaded as a module file (CSP forbids inline scripts).
//
// What to fetch and what it must hash to comes from the fan's own .torrent (the page names its
// URL in data-torrent-url), decoded here: the same metainfo a desktop client gets, so the browser
// checks against exactly the hashes every other peer of the swarm checks against, and the
// web-seed URL in it is the fan's signed one.

const CONCURRENCY = 4;
// A request covers a run of consecutive pieces up to this size: fewer, larger requests for big
// files (each one costs a round trip), while small files still get CONCURRENCY requests at once.
const MAX_RUN_BYTES = 4 * 1024 * 1024;
// A piece that fails its hash this often means the seed keeps serving wrong bytes: stop.
export const MAX_PIECE_ATTEMPTS = 5;
// Failed requests in a row (no verified piece in between) before the download pauses and waits
// for the fan (or the browser coming back online) to resume it.
const MAX_FAILURES_IN_A_ROW = 8;
const SPEED_WINDOW_MS = 5000;

// --- bencode -------------------------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Decodes bencoded bytes: integers to Numbers, strings to Uint8Arrays, dicts to objects. */
export function bdecode(bytes) {
  let at = 0;
  const fail = (why) => {
    throw new Error(`Not a valid torrent (${why} at byte ${at}).`);
  };
  const digitsUntil = (stop) => {
    const end = bytes.indexOf(stop, at);
    if (end < 0) fail("unterminated number");
    const text = utf8.decode(bytes.subarray(at, end));
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) fail(`bad number "${text}"`);
    const value = Number(text);
    if (!Number.isSafeInteger(value)) fail("number too large");
    at = end + 1;
    return value;
  };
  const next = () => {
    const kind = bytes[at];
    if (kind === 0x69) {  // i<digits>e
      at += 1;
      return digitsUntil(0x65);
    }
    if (kind === 0x6c) {  // l<items>e
      at += 1;
      const list = [];
      while (bytes[at] !== 0x65) {
        if (at >= bytes.length) fail("unterminated list");
        list.push(next());
      }
      at += 1;
      return list;
    }
    if (kind === 0x64) {  // d<key><value>...e
      at += 1;
      const dict = Object.create(null);
      while (bytes[at] !== 0x65) {
        if (at >= bytes.length) fail("unterminated dictionary");
        const key = next();
        if (!(key instanceof Uint8Array)) fail("dictionary key is not a string");
        dict[utf8.decode(key)] = next();
      }
      at += 1;
      return dict;
    }
    if (kind >= 0x30 && kind <= 0x39) {  // <length>:<bytes>
      const length = digitsUntil(0x3a);
      if (length < 0 || at + length > bytes.length) fail("string runs past the end");
      const value = bytes.subarray(at, at + length);
      at += length;
      return value;
    }
    return fail("unexpected byte");
  };
  const value = next();
  if (at !== bytes.length) fail("trailing bytes");
  return value;
}

// --- the torrent ---------------------------------------------------------------------------

function text(value) {
  return value instanceof Uint8Array ? utf8.decode(value) : String(value);
}

// Web seeds take each path segment percent-encoded (BEP 19, as libtorrent and aria2 send them).
function fileUrl(base, name, path) {
  if (path.length === 0) {
    return base.endsWith("/") ? base + encodeURIComponent(name) : base;
  }
  const folder = base.endsWith("/") ? base : `${base}/`;
  return folder + [name, ...path].map(encodeURIComponent).join("/");
}

/** What a browser download needs from a v1 .torrent: pieces, files and the web seed. */
export function parseTorrent(bytes) {
  const meta = bdecode(bytes);
  const info = meta?.info;
  if (!info || !(info.pieces instanceof Uint8Array)) throw new Error("The torrent has no v1 pieces.");
  const name = text(info["name.utf-8"] ?? info.name);
  const pieceLength = info["piece length"];
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new Error("Bad piece length.");
  const list = meta["url-list"];
  const seeds = (Array.isArray(list) ? list : list ? [list] : []).map(text).filter(Boolean);
  if (seeds.length === 0) throw new Error("The torrent lists no web seed.");
  const base = seeds[0];

  const entries = info.files
    ? info.files.map((file) => ({
        path: (file["path.utf-8"] ?? file.path).map(text),
        length: file.length,
        // Pad files (BEP 47, hybrid torrents) are zeros that no web seed serves.
        pad: text(file.attr ?? "").includes("p"),
      }))
    : [{ path: [], length: info.length, pad: false }];
  let offset = 0;
  const files = entries.map((entry) => {
    if (!Number.isSafeInteger(entry.length) || entry.length < 0) throw new Error("Bad file length.");
    const file = { ...entry, offset, url: fileUrl(base, name, entry.path) };
    offset += entry.length;
    return file;
  });
  const totalSize = offset;
  const pieceCount = info.pieces.length / 20;
  if (!Number.isInteger(pieceCount) || pieceCount !== Math.ceil(totalSize / pieceLength)) {
    throw new Error("The torrent's piece hashes do not match its size.");
  }
  return { name, pieceLength, pieceHashes: info.pieces, pieceCount, files, totalSize };
}

// --- the download --------------------------------------------------------------------------

/** A refusal no retry can fix (no access any more, taken down, or bytes that never verify). */
export class FatalError extends Error {}

const PENDING = 0;
const FETCHING = 1;
const VERIFIED = 2;

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

function refusal(status) {
  if (status === 403 || status === 401) {
    return new FatalError("The download link is no longer valid (access withdrawn or link expired). Reload the page to try again.");
  }
  if (status === 410) return new FatalError("This content has been taken down.");
  if (status === 404) return new FatalError("A file of this content is missing on the server.");
  if (status === 416) return new FatalError("The files on the server changed. Reload the page to start again.");
  return null;
}

/**
 * Fetches and verifies every piece of a parsed torrent. Events: "progress" (after bytes arrive or
 * a piece is verified), "corrupt" (detail: piece index; it is fetched again), "retry" (detail:
 * {failures, delay, error}), "paused" (detail: reason), "resumed".
 */
export class WebSeedDownload extends EventTarget {
  constructor(torrent) {
    super();
    this.torrent = torrent;
    this.state = new Uint8Array(torrent.pieceCount);
    this.attempts = new Uint8Array(torrent.pieceCount);
    this.pieces = new Array(torrent.pieceCount).fill(null);  // verified Blobs
    this.verifiedBytes = 0;
    this.verifiedCount = 0;
    this.corruptCount = 0;
    this.retryCount = 0;
    this.failuresInARow = 0;
    this.samples = [];  // [time, bytes] received, for the speed
    this.fatal = null;
    this.paused = null;  // {promise, resolve} while paused
    this.controller = new AbortController();
    const perRun = Math.floor(MAX_RUN_BYTES / torrent.pieceLength);
    this.runPieces = Math.max(1, Math.min(perRun, Math.ceil(torrent.pieceCount / (CONCURRENCY * 4))));
  }

  /** Whether ``torrent`` has the same pieces as this download's, whatever its web seed. */
  sameTorrent(torrent) {
    const mine = this.torrent;
    return mine.pieceLength === torrent.pieceLength
      && mine.totalSize === torrent.totalSize
      && sameBytes(mine.pieceHashes, torrent.pieceHashes);
  }

  /** Fetch from ``torrent``'s web-seed URLs from now on, and start over after a failure. */
  retarget(torrent) {
    this.torrent = torrent;
    this.fatal = null;
    this.failuresInARow = 0;
    this.attempts.fill(0);
    if (this.controller.signal.aborted) this.controller = new AbortController();
  }

  pieceSize(index) {
    const { pieceLength, totalSize } = this.torrent;
    return Math.min(pieceLength, totalSize - index * pieceLength);
  }

  get done() {
    return this.verifiedCount === this.torrent.pieceCount;
  }

  /** Bytes per second over the last few seconds. */
  speed() {
    const now = performance.now();
    while (this.samples.length && this.samples[0][0] < now - SPEED_WINDOW_MS) this.samples.shift();
    if (this.samples.length === 0) return 0;
    const bytes = this.samples.reduce((sum, [, n]) => sum + n, 0);
    const span = Math.max(1000, now - this.samples[0][0]);
    return (bytes * 1000) / span;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Resolves once every piece is verified (waiting out pauses); rejects with a FatalError. */
  async run() {
    while (!this.done) {
      await Promise.all(Array.from({ length: CONCURRENCY }, () => this.worker()));
      if (this.fatal) throw this.fatal;
      if (this.paused) {
        await this.paused.promise;
      } else if (!this.done && !this.state.includes(PENDING)) {
        // Workers only stop when nothing is left to fetch; never spin if that breaks.
        throw new Error("no piece left to fetch, yet not all verified");
      }
    }
  }

  pause(reason) {
    if (this.paused || this.done) return;
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    this.paused = { promise, resolve };
    this.controller.abort();  // in-flight requests stop; their unverified pieces go back
    this.emit("paused", reason);
  }

  resume() {
    if (!this.paused) return;
    const { resolve } = this.paused;
    this.paused = null;
    this.failuresInARow = 0;
    this.controller = new AbortController();
    resolve();
    this.emit("resumed");
  }

  nextRun() {
    const { state } = this;
    const first = state.indexOf(PENDING);
    if (first < 0) return null;
    let last = first;
    while (last + 1 < state.length && last + 1 - first < this.runPieces && state[last + 1] === PENDING) {
      last += 1;
    }
    state.fill(FETCHING, first, last + 1);
    return { first, last };
  }

  async worker() {
    while (!this.fatal) {
      if (this.paused) await this.paused.promise;
      const run = this.nextRun();
      if (!run) return;
      const signal = this.controller.signal;
      try {
        await this.fetchRun(run, signal);
      } catch (error) {
        if (error instanceof FatalError) {
          this.fatal = this.fatal ?? error;
          this.controller.abort();
          return;
        }
        if (!signal.aborted) await this.backOff(error);
      } finally {
        for (let i = run.first; i <= run.last; i += 1) {
          if (this.state[i] === FETCHING) this.state[i] = PENDING;
        }
      }
    }
  }

  async backOff(error) {
    this.failuresInARow += 1;
    this.retryCount += 1;
    if (this.failuresInARow >= MAX_FAILURES_IN_A_ROW) {
      this.pause("connection");
      return;
    }
    const delay = Math.min(15000, 250 * 2 ** this.failuresInARow);
    this.emit("retry", { failures: this.failuresInARow, delay, error });
    await sleep(delay, this.controller.signal);
  }

  /** The web-seed requests (one per file the bytes [start, end) fall in). */
  *segments(start, end) {
    for (const file of this.torrent.files) {
      const from = Math.max(start, file.offset);
      const to = Math.min(end, file.offset + file.length);
      if (from < to) yield { file, from: from - file.offset, to: to - file.offset, length: to - from };
    }
  }

  async fetchRun(run, signal) {
    const { pieceLength } = this.torrent;
    const start = run.first * pieceLength;
    const end = run.last * pieceLength + this.pieceSize(run.last);
    let index = run.first;
    let piece = new Uint8Array(this.pieceSize(index));
    let filled = 0;
    // Each piece is checked as soon as its last byte arrives, while reading goes on: a
    // connection cut mid-response keeps every piece completed before the cut, and the body is
    // read as fast as it comes (a browser drops what a page has not read yet when a connection
    // fails).
    const checks = [];
    const accept = (chunk) => {
      let used = 0;
      while (used < chunk.length) {
        const n = Math.min(piece.length - filled, chunk.length - used);
        piece.set(chunk.subarray(used, used + n), filled);
        filled += n;
        used += n;
        if (filled === piece.length) {
          checks.push(this.verify(index, piece));
          index += 1;
          if (index <= run.last) {
            piece = new Uint8Array(this.pieceSize(index));
            filled = 0;
          }
        }
      }
    };

    try {
      for (const segment of this.segments(start, end)) {
        if (segment.file.pad) {
          accept(new Uint8Array(segment.length));
          continue;
        }
        await this.fetchSegment(segment, signal, accept);
      }
    } finally {
      // Settled before the caller puts unverified pieces back in the queue.
      const results = await Promise.allSettled(checks);
      const fatal = results.find((result) => result.status === "rejected");
      if (fatal) throw fatal.reason;
    }
  }

  async fetchSegment(segment, signal, accept) {
    const last = segment.to - 1;
    // no-store: a piece fetched again after failing its hash must come from the seed, not
    // from a cache holding the same wrong bytes. It adds no header, so no CORS preflight.
    const response = await fetch(segment.file.url, {
      headers: { Range: `bytes=${segment.from}-${last}` },
      cache: "no-store",
      credentials: "omit",
      signal,
    });
    const fatal = refusal(response.status);
    if (fatal) throw fatal;
    const whole = response.status === 200 && segment.from === 0 && segment.to === segment.file.length;
    const range = response.headers.get("Content-Range") ?? "";
    if (!whole && (response.status !== 206 || !range.startsWith(`bytes ${segment.from}-${last}/`))) {
      await response.body?.cancel();
      throw new Error(`the web seed answered ${response.status} ${range}`.trim());
    }
    const reader = response.body.getReader();
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      if (received > segment.length) {
        await reader.cancel();
        throw new Error("the web seed sent more than asked");
      }
      this.samples.push([performance.now(), value.length]);
      accept(value);
      this.emit("progress");
    }
    if (received !== segment.length) throw new Error("the connection closed early");
  }

  // The piece stays FETCHING either way until its run ends, so that exactly one request
  // holds it at a time: the run's end puts a piece that failed back in the queue.
  async verify(index, bytes) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
    const expected = this.torrent.pieceHashes.subarray(index * 20, index * 20 + 20);
    if (this.state[index] !== FETCHING) return;
    if (sameBytes(digest, expected)) {
      // A Blob, not the buffer: Chromium moves large blob data out of the page's memory (and
      // to disk when it must), so a big download does not live in the JavaScript heap.
      this.pieces[index] = new Blob([bytes]);
      this.state[index] = VERIFIED;
      this.verifiedBytes += bytes.length;
      this.verifiedCount += 1;
      this.failuresInARow = 0;
      this.emit("progress");
      return;
    }
    this.corruptCount += 1;
    this.attempts[index] += 1;
    this.emit("corrupt", index);
    if (this.attempts[index] >= MAX_PIECE_ATTEMPTS) {
      throw new FatalError(`Piece ${index} failed verification ${MAX_PIECE_ATTEMPTS} times: the server keeps sending wrong data. Try the .torrent in a BitTorrent client.`);
    }
  }

  /** A verified file, assembled from the pieces it spans. */
  fileBlob(file) {
    const { pieceLength } = this.torrent;
    const parts = [];
    let at = file.offset;
    const end = file.offset + file.length;
    while (at < end) {
      const index = Math.floor(at / pieceLength);
      const pieceStart = index * pieceLength;
      const to = Math.min(end - pieceStart, this.pieceSize(index));
      parts.push(this.pieces[index].slice(at - pieceStart, to));
      at = pieceStart + to;
    }
    return new Blob(parts, { type: "application/octet-stream" });
  }
}

// --- the page ------------------------------------------------------------------------------

const units = ["B", "KB", "MB", "GB", "TB"];
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// Browsers drop the folders of a download's name; bundle files keep theirs in the name.
function saveName(torrent, file) {
  return file.path.length ? file.path.join("_") : torrent.name;
}

function triggerSave(url, name) {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

class DownloadPanel {
  constructor(root) {
    this.root = root;
    this.startButton = root.querySelector("[data-download-start]");
    this.pauseButton = root.querySelector("[data-download-pause]");
    this.progressBox = root.querySelector("[data-download-progress]");
    this.bar = root.querySelector("[data-download-bar]");
    this.figures = root.querySelector("[data-download-figures]");
    this.status = root.querySelector("[data-download-status]");
    this.savedBox = root.querySelector("[data-download-saved]");
    this.savedList = root.querySelector("[data-download-saved-list]");
    this.download = null;
    this.lastPaint = 0;
    this.startButton.addEventListener("click", () => this.start());
    this.pauseButton.addEventListener("click", () => this.togglePause());
    window.addEventListener("online", () => {
      if (this.download?.paused) this.download.resume();
    });
  }

  setState(state) {
    this.root.dataset.state = state;
  }

  say(message) {
    this.status.textContent = message;
  }

  async start() {
    if (!window.isSecureContext || !crypto.subtle) {
      this.setState("error");
      this.say("The browser download needs a secure (HTTPS) page. Use the .torrent file instead.");
      return;
    }
    this.startButton.disabled = true;
    this.startButton.textContent = "Downloading…";
    this.setState("starting");
    this.say("Preparing the download…");
    let torrent;
    try {
      const response = await fetch(this.root.dataset.torrentUrl, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) {
        throw new Error(response.status === 403 ? "You have no access to this content." : `The server answered ${response.status}.`);
      }
      torrent = parseTorrent(new Uint8Array(await response.arrayBuffer()));
    } catch (error) {
      this.fail(`Could not read the torrent: ${error.message}`);
      return;
    }
    // Trying again after a failure keeps the pieces verified so far when the torrent is the
    // same (a fresh .torrent only brings a fresh web-seed URL, e.g. after the old one expired).
    const download = this.download?.sameTorrent(torrent) ? this.download : this.track(new WebSeedDownload(torrent));
    download.retarget(torrent);

    this.progressBox.hidden = false;
    this.pauseButton.hidden = false;
    this.setState("fetching");
    this.say(`Downloading ${torrent.name}…`);
    this.paint(true);
    try {
      await download.run();
    } catch (error) {
      this.fail(error instanceof FatalError ? error.message : `The download stopped: ${error.message}`);
      return;
    }
    this.paint(true);
    this.pauseButton.hidden = true;
    this.save(download);
  }

  track(download) {
    this.download = download;
    download.addEventListener("progress", () => this.paint());
    download.addEventListener("corrupt", (event) => {
      this.root.dataset.corruptPieces = String(download.corruptCount);
      this.say(`Piece ${event.detail} did not match its hash and was thrown away; fetching it again.`);
    });
    download.addEventListener("retry", (event) => {
      this.root.dataset.retries = String(download.retryCount);
      const { delay } = event.detail;
      this.say(`Connection lost; retrying in ${formatDuration(delay / 1000)}. Verified pieces are kept.`);
    });
    download.addEventListener("paused", (event) => {
      this.setState("paused");
      this.paint(true);
      this.pauseButton.textContent = "Resume";
      this.say(event.detail === "connection"
        ? "Paused: the connection keeps failing. Verified pieces are kept; press Resume to continue."
        : "Paused. Verified pieces are kept.");
    });
    download.addEventListener("resumed", () => {
      this.setState("fetching");
      this.pauseButton.textContent = "Pause";
      this.say("Resumed.");
    });
    return download;
  }

  togglePause() {
    if (!this.download) return;
    if (this.download.paused) this.download.resume();
    else this.download.pause("fan");
  }

  paint(force = false) {
    const download = this.download;
    const now = performance.now();
    if (!download || (!force && now - this.lastPaint < 200)) return;
    this.lastPaint = now;
    const { totalSize } = download.torrent;
    const share = totalSize ? download.verifiedBytes / totalSize : 1;
    this.bar.value = Math.floor(share * 1000) / 10;
    this.bar.setAttribute("aria-valuetext", `${Math.floor(share * 100)} percent`);
    const speed = download.speed();
    const left = speed > 0 ? (totalSize - download.verifiedBytes) / speed : Infinity;
    const parts = [`${formatBytes(download.verifiedBytes)} of ${formatBytes(totalSize)} verified`];
    if (!download.done && !download.paused && speed > 0) parts.push(`${formatBytes(speed)}/s`, `${formatDuration(left)} left`);
    this.figures.textContent = parts.join(" · ");
    this.root.dataset.verifiedPieces = String(download.verifiedCount);
  }

  save(download) {
    this.setState("saving");
    const files = download.torrent.files.filter((file) => !file.pad);
    this.savedList.replaceChildren();
    for (const file of files) {
      const name = saveName(download.torrent, file);
      const url = URL.createObjectURL(download.fileBlob(file));
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      link.textContent = `${name} (${formatBytes(file.length)})`;
      item.append(link);
      this.savedList.append(item);
      triggerSave(url, name);
    }
    this.savedBox.hidden = false;
    const corrupt = download.corruptCount
      ? ` ${download.corruptCount} damaged piece${download.corruptCount === 1 ? " was" : "s were"} fetched again.`
      : "";
    this.say(`Done: ${download.torrent.pieceCount} pieces verified, ${files.length} file${files.length === 1 ? "" : "s"} saved.${corrupt}`);
    this.root.dataset.corruptPieces = String(download.corruptCount);
    this.root.dataset.retries = String(download.retryCount);
    this.startButton.hidden = true;
    this.setState("done");
  }

  fail(message) {
    this.paint(true);
    this.setState("error");
    this.pauseButton.hidden = true;
    this.startButton.disabled = false;
    this.startButton.textContent = "Try again";
    this.say(message);
  }
}

for (const root of document.querySelectorAll("[data-webseed-download]")) {
  new DownloadPanel(root);
}
