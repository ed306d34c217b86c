// @ts-check
// Downloads a content in the browser through its BEP 19 web seed: parallel Range requests,
// every v1 piece checked with WebCrypto's SHA-1 against the torrent's piece hashes before it is
// kept, automatic retries after a dropped connection (verified pieces stay), then the file(s)
// saved through object URLs. Loaded as a module file (CSP forbids inline scripts).
//
// What to fetch and what it must hash to comes from the fan's own .torrent (the page names its
// URL in data-torrent-url), decoded here: the same metainfo a desktop client gets, so the browser
// checks against exactly the hashes every other peer of the swarm checks against, and the
// web-seed URL in it is the fan's signed one.
//
// With P2P chosen, and WebRTC in the browser, the panel downloads with WebTorrent instead
// (webtorrent-download.js); without WebRTC it uses this path, the web seed alone, silently.

import { PeerDownload, peerCapable } from "./webtorrent-download.js";

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

/**
 * A bencoded value, decoded.
 * @typedef {number | Uint8Array | BValue[] | BDict} BValue
 * @typedef {{[key: string]: BValue | undefined}} BDict
 */

/**
 * Decodes bencoded bytes: integers to Numbers, strings to Uint8Arrays, dicts to objects.
 * @param {Uint8Array} bytes
 * @returns {BValue}
 */
export function bdecode(bytes) {
  let at = 0;
  /**
   * @param {string} why
   * @returns {never}
   */
  function fail(why) {
    throw new Error(`Not a valid torrent (${why} at byte ${at}).`);
  }
  /** @param {number} stop the byte that ends the digits */
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
  /** @returns {BValue} */
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
      /** @type {BDict} */
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

/** @param {BValue | string | undefined} value */
function text(value) {
  return value instanceof Uint8Array ? utf8.decode(value) : String(value);
}

/**
 * @param {BValue | undefined} value
 * @returns {BDict | undefined} the dictionary, or undefined when the value is none
 */
function asDict(value) {
  return typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array) ? value : undefined;
}

/**
 * @param {BValue | undefined} value
 * @param {string} what
 * @returns {BValue[]}
 */
function asList(value, what) {
  if (!Array.isArray(value)) throw new Error(`Not a valid torrent (${what} is not a list).`);
  return value;
}

// Web seeds take each path segment percent-encoded (BEP 19, as libtorrent and aria2 send them).
/**
 * @param {string} base
 * @param {string} name
 * @param {string[]} path
 */
function fileUrl(base, name, path) {
  if (path.length === 0) {
    return base.endsWith("/") ? base + encodeURIComponent(name) : base;
  }
  const folder = base.endsWith("/") ? base : `${base}/`;
  return folder + [name, ...path].map(encodeURIComponent).join("/");
}

/**
 * One file of a torrent, at `offset` in the torrent's bytes.
 * @typedef {object} TorrentFile
 * @property {string[]} path its folders and name inside the torrent's folder; [] for a lone file
 * @property {number} length
 * @property {boolean} pad a BEP 47 pad file: zeros, never fetched nor saved
 * @property {number} offset
 * @property {string} url its web-seed URL at the first door
 * @property {string[]} urls its URL at each door (the torrent's web seeds, in its order)
 */

/**
 * @typedef {object} Torrent
 * @property {string} name
 * @property {number} pieceLength
 * @property {Uint8Array} pieceHashes 20 bytes (SHA-1) per piece
 * @property {number} pieceCount
 * @property {TorrentFile[]} files
 * @property {number} totalSize
 */

/**
 * What a browser download needs from a v1 .torrent: pieces, files and the web seed.
 * @param {Uint8Array} bytes
 * @returns {Torrent}
 */
export function parseTorrent(bytes) {
  const meta = asDict(bdecode(bytes));
  const info = asDict(meta?.info);
  if (!meta || !info || !(info.pieces instanceof Uint8Array)) throw new Error("The torrent has no v1 pieces.");
  const name = text(info["name.utf-8"] ?? info.name);
  const pieceLength = info["piece length"];
  if (typeof pieceLength !== "number" || !Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
    throw new Error("Bad piece length.");
  }
  const list = meta["url-list"];
  const seeds = (Array.isArray(list) ? list : list ? [list] : []).map(text).filter(Boolean);
  if (seeds.length === 0) throw new Error("The torrent lists no web seed.");

  const entries = info.files
    ? asList(info.files, "files").map((item) => {
        const file = asDict(item) ?? {};
        return {
          path: asList(file["path.utf-8"] ?? file.path, "path").map(text),
          length: file.length,
          // Pad files (BEP 47, hybrid torrents) are zeros that no web seed serves.
          pad: text(file.attr ?? "").includes("p"),
        };
      })
    : [{ path: [], length: info.length, pad: false }];
  let offset = 0;
  const files = entries.map((entry) => {
    const { length } = entry;
    if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) throw new Error("Bad file length.");
    const urls = seeds.map((seed) => fileUrl(seed, name, entry.path));
    /** @type {TorrentFile} */
    const file = { ...entry, length, offset, url: urls[0], urls };
    offset += length;
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

/** Staff took the content down: final, and said in plain words with the public reason. */
export class TakenDown extends FatalError {}

const TAKEN_DOWN = "This content was removed by the platform's moderators and can no longer be downloaded.";

/**
 * Why the server refused the fan's .torrent: a takedown answers 410 with its public reason as
 * JSON ({detail, code: "removed", reason, removed_at}), which the fan reads as it is.
 * @param {Response} response
 * @returns {Promise<Error>}
 */
export async function torrentRefusal(response) {
  if (response.status === 403) return new Error("You have no access to this content.");
  if (response.status === 410) {
    let reason = "";
    try {
      const body = /** @type {{reason?: unknown}} */ (await response.json());
      reason = typeof body.reason === "string" ? body.reason : "";
    } catch {
      // not JSON (a proxy's page): the plain message still holds
    }
    return new TakenDown(reason ? `${TAKEN_DOWN} Reason: ${reason}` : TAKEN_DOWN);
  }
  return new Error(`The server answered ${response.status}.`);
}

const PENDING = 0;
const FETCHING = 1;
const VERIFIED = 2;

/**
 * @param {number} ms
 * @param {AbortSignal} [signal] ends the wait early
 * @returns {Promise<void>}
 */
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/** @param {number} status */
function refusal(status) {
  if (status === 403 || status === 401) {
    return new FatalError("The download link is no longer valid (access withdrawn or link expired). Reload the page to try again.");
  }
  if (status === 410) return new TakenDown(TAKEN_DOWN);
  if (status === 404) return new FatalError("A file of this content is missing on the server.");
  if (status === 416) return new FatalError("The files on the server changed. Reload the page to start again.");
  return null;
}

/**
 * One web-seed request: bytes [from, to) of a file.
 * @typedef {{file: TorrentFile, from: number, to: number, length: number}} Segment
 */

/**
 * Fetches and verifies every piece of a parsed torrent. Events: "progress" (after bytes arrive or
 * a piece is verified), "corrupt" (detail: piece index; it is fetched again), "retry" (detail:
 * {failures, delay, error}), "paused" (detail: reason), "resumed".
 */
export class WebSeedDownload extends EventTarget {
  /** @param {Torrent} torrent */
  constructor(torrent) {
    super();
    this.torrent = torrent;
    this.state = new Uint8Array(torrent.pieceCount);
    this.attempts = new Uint8Array(torrent.pieceCount);
    /** @type {(Blob | null)[]} */
    this.pieces = new Array(torrent.pieceCount).fill(null);  // verified Blobs
    this.verifiedBytes = 0;
    this.verifiedCount = 0;
    this.corruptCount = 0;
    this.retryCount = 0;
    this.failuresInARow = 0;
    // Which of the torrent's web seeds (one per node holding the content) requests go to, and
    // how many were left since a piece last verified (see ``leaveDoor``).
    this.door = 0;
    this.doorsLeft = 0;
    /** @type {[number, number][]} */
    this.samples = [];  // [time, bytes] received, for the speed
    /** @type {FatalError | null} */
    this.fatal = null;
    /** @type {{promise: Promise<void>, resolve: () => void} | null} */
    this.paused = null;  // while paused
    this.controller = new AbortController();
    const perRun = Math.floor(MAX_RUN_BYTES / torrent.pieceLength);
    this.runPieces = Math.max(1, Math.min(perRun, Math.ceil(torrent.pieceCount / (CONCURRENCY * 4))));
  }

  /**
   * Whether ``torrent`` has the same pieces as this download's, whatever its web seed.
   * @param {Torrent} torrent
   */
  sameTorrent(torrent) {
    const mine = this.torrent;
    return mine.pieceLength === torrent.pieceLength
      && mine.totalSize === torrent.totalSize
      && sameBytes(mine.pieceHashes, torrent.pieceHashes);
  }

  /**
   * Fetch from ``torrent``'s web-seed URLs from now on, and start over after a failure.
   * @param {Torrent} torrent
   */
  retarget(torrent) {
    this.torrent = torrent;
    this.door = 0;
    this.doorsLeft = 0;
    this.fatal = null;
    this.failuresInARow = 0;
    this.attempts.fill(0);
    if (this.controller.signal.aborted) this.controller = new AbortController();
  }

  /** @param {number} index */
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

  /**
   * @param {string} type
   * @param {unknown} [detail]
   */
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

  /** @param {string} reason "connection" or "fan" */
  pause(reason) {
    if (this.paused || this.done) return;
    /** @type {() => void} */
    let resolve = () => {};
    /** @type {Promise<void>} */
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
      const door = this.door;
      try {
        await this.fetchRun(run, signal);
      } catch (error) {
        if (error instanceof FatalError) {
          this.fatal = this.fatal ?? error;
          this.controller.abort();
          return;
        }
        if (signal.aborted) continue;
        this.leaveDoor(door);
        await this.backOff(error);
      } finally {
        for (let i = run.first; i <= run.last; i += 1) {
          if (this.state[i] === FETCHING) this.state[i] = PENDING;
        }
      }
    }
  }

  /** How many doors (web seeds) the torrent names. */
  get doorCount() {
    return this.torrent.files[0]?.urls.length ?? 1;
  }

  /**
   * A request to ``door`` failed in a way another node may not (no answer, a server error, a
   * file missing there): later requests go to the next door. The workers fail together when a
   * node dies, so only the first failure at the current door moves on.
   * @param {number} door
   */
  leaveDoor(door) {
    if (door !== this.door || this.doorCount < 2) return;
    this.door = (door + 1) % this.doorCount;
    this.doorsLeft += 1;
  }

  /** @param {unknown} error */
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

  /**
   * The web-seed requests (one per file the bytes [start, end) fall in).
   * @param {number} start
   * @param {number} end
   * @returns {Generator<Segment>}
   */
  *segments(start, end) {
    for (const file of this.torrent.files) {
      const from = Math.max(start, file.offset);
      const to = Math.min(end, file.offset + file.length);
      if (from < to) yield { file, from: from - file.offset, to: to - file.offset, length: to - from };
    }
  }

  /**
   * @param {{first: number, last: number}} run consecutive pieces, first to last included
   * @param {AbortSignal} signal
   */
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
    /** @type {Promise<void>[]} */
    const checks = [];
    /** @param {Uint8Array} chunk */
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

    let failed = false;
    let failure;
    try {
      for (const segment of this.segments(start, end)) {
        if (segment.file.pad) {
          accept(new Uint8Array(segment.length));
          continue;
        }
        await this.fetchSegment(segment, signal, accept);
      }
    } catch (error) {
      failed = true;
      failure = error;
    }
    // Settled before the caller puts unverified pieces back in the queue; a failed check (a piece
    // that keeps failing its hash) counts before the request's own failure.
    const results = await Promise.allSettled(checks);
    const fatal = results.find((result) => result.status === "rejected");
    if (fatal) throw fatal.reason;
    if (failed) throw failure;
  }

  /**
   * @param {Segment} segment
   * @param {AbortSignal} signal
   * @param {(chunk: Uint8Array) => void} accept
   */
  async fetchSegment(segment, signal, accept) {
    const last = segment.to - 1;
    // no-store: a piece fetched again after failing its hash must come from the seed, not
    // from a cache holding the same wrong bytes. It adds no header, so no CORS preflight.
    const response = await fetch(segment.file.urls[this.door] ?? segment.file.url, {
      headers: { Range: `bytes=${segment.from}-${last}` },
      cache: "no-store",
      credentials: "omit",
      signal,
    });
    const fatal = refusal(response.status);
    // A file missing on one node may be whole on another: final only once every door said so.
    if (fatal && response.status === 404 && this.doorsLeft < this.doorCount - 1) {
      throw new Error(`${fatal.message} (${new URL(response.url).host})`);
    }
    if (fatal) throw fatal;
    const whole = response.status === 200 && segment.from === 0 && segment.to === segment.file.length;
    const range = response.headers.get("Content-Range") ?? "";
    if (!whole && (response.status !== 206 || !range.startsWith(`bytes ${segment.from}-${last}/`))) {
      await response.body?.cancel();
      throw new Error(`the web seed answered ${response.status} ${range}`.trim());
    }
    if (!response.body) throw new Error("the web seed answered with no body");
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
  /**
   * @param {number} index
   * @param {Uint8Array<ArrayBuffer>} bytes the piece
   */
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
      this.doorsLeft = 0;
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

  /**
   * A verified file, assembled from the pieces it spans.
   * @param {TorrentFile} file
   */
  fileBlob(file) {
    const { pieceLength } = this.torrent;
    const parts = [];
    let at = file.offset;
    const end = file.offset + file.length;
    while (at < end) {
      const index = Math.floor(at / pieceLength);
      const pieceStart = index * pieceLength;
      const to = Math.min(end - pieceStart, this.pieceSize(index));
      parts.push(/** @type {Blob} */ (this.pieces[index]).slice(at - pieceStart, to));
      at = pieceStart + to;
    }
    return new Blob(parts, { type: "application/octet-stream" });
  }
}

// --- the page ------------------------------------------------------------------------------

const units = ["B", "KB", "MB", "GB", "TB"];
/** @param {number} bytes */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// Browsers drop the folders of a download's name; bundle files keep theirs in the name.
/**
 * @param {Torrent} torrent
 * @param {TorrentFile} file
 */
function saveName(torrent, file) {
  return file.path.length ? file.path.join("_") : torrent.name;
}

/**
 * @param {string} url
 * @param {string} name
 */
function triggerSave(url, name) {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

/** @param {unknown} error */
function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

class DownloadPanel {
  /** @param {HTMLElement} root the templates/swarm/downloads.html block */
  constructor(root) {
    /** @param {string} selector */
    const part = (selector) => /** @type {HTMLElement} */ (root.querySelector(selector));
    this.root = root;
    this.startButton = /** @type {HTMLButtonElement} */ (part("[data-download-start]"));
    this.pauseButton = /** @type {HTMLButtonElement} */ (part("[data-download-pause]"));
    this.progressBox = part("[data-download-progress]");
    this.bar = /** @type {HTMLProgressElement} */ (part("[data-download-bar]"));
    this.figures = part("[data-download-figures]");
    this.status = part("[data-download-status]");
    this.savedBox = part("[data-download-saved]");
    this.savedList = part("[data-download-saved-list]");
    this.sources = part("[data-download-sources]");
    this.stopButton = /** @type {HTMLButtonElement} */ (part("[data-p2p-stop]"));
    this.p2pChoice = /** @type {HTMLInputElement | null} */ (root.querySelector("[data-p2p-choice]"));
    /** @type {PeerDownload | null} */
    this.peers = null;
    this.stopButton.addEventListener("click", () => this.stopSharing());
    /** @type {WebSeedDownload | null} */
    this.download = null;
    this.lastPaint = 0;
    this.startButton.addEventListener("click", () => this.start());
    this.pauseButton.addEventListener("click", () => this.togglePause());
    window.addEventListener("online", () => {
      if (this.download?.paused) this.download.resume();
    });
  }

  /** @param {string} state */
  setState(state) {
    this.root.dataset.state = state;
  }

  /** @param {string} message */
  say(message) {
    this.status.textContent = message;
  }

  async start() {
    if (!window.isSecureContext || !crypto.subtle) {
      this.setState("error");
      this.say("The browser download needs a secure (HTTPS) page. Use the .torrent file instead.");
      return;
    }
    if (this.p2pChoice?.checked && peerCapable()) {
      await this.startWithPeers();
      return;
    }
    this.startButton.disabled = true;
    this.startButton.textContent = "Downloading…";
    this.setState("starting");
    this.say("Preparing the download…");
    let torrent;
    try {
      const response = await fetch(String(this.root.dataset.torrentUrl), { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw await torrentRefusal(response);
      torrent = parseTorrent(new Uint8Array(await response.arrayBuffer()));
    } catch (error) {
      if (error instanceof TakenDown) this.end(error.message);
      else this.fail(`Could not read the torrent: ${errorText(error)}`);
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
      if (error instanceof TakenDown) this.end(await this.takedownMessage());
      else this.fail(error instanceof FatalError ? error.message : `The download stopped: ${errorText(error)}`);
      return;
    }
    this.paint(true);
    this.pauseButton.hidden = true;
    this.save(download);
  }

  // The P2P path: the browser's .torrent (WebSocket tracker + web seed) into WebTorrent.
  async startWithPeers() {
    this.startButton.disabled = true;
    this.startButton.textContent = "Downloading…";
    if (this.p2pChoice) this.p2pChoice.disabled = true;
    this.root.dataset.client = "webtorrent";
    this.setState("starting");
    this.say("Preparing the download…");
    let metainfo;
    let torrent;
    try {
      const response = await fetch(String(this.root.dataset.browserTorrentUrl), { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw await torrentRefusal(response);
      metainfo = new Uint8Array(await response.arrayBuffer());
      torrent = parseTorrent(metainfo);
    } catch (error) {
      this.fail(`Could not read the torrent: ${errorText(error)}`);
      return;
    }
    const csrf = /** @type {HTMLInputElement | null} */ (this.root.querySelector("[name=csrfmiddlewaretoken]"));
    const peers = new PeerDownload(metainfo, {
      moduleUrl: String(this.root.dataset.webtorrentSrc),
      reportUrl: String(this.root.dataset.peerBytesUrl),
      csrfToken: csrf?.value ?? "",
      serviceWorkerUrl: String(this.root.dataset.serviceWorkerUrl),
      players: Array.from(/** @type {NodeListOf<HTMLMediaElement>} */ (
        this.root.closest(".downloads")?.querySelectorAll("[data-player]") ?? []
      )),
    });
    this.peers = peers;
    peers.addEventListener("progress", () => this.paintPeers(torrent));
    // The last count goes out as the page closes (a keepalive request).
    window.addEventListener("pagehide", () => peers.stop(), { once: true });
    this.progressBox.hidden = false;
    this.sources.hidden = false;
    this.setState("fetching");
    this.say(`Downloading ${torrent.name}…`);
    let files;
    try {
      files = await peers.run();
    } catch (error) {
      peers.stop();
      if (this.p2pChoice) this.p2pChoice.disabled = false;
      this.fail(`The download stopped: ${errorText(error)}`);
      return;
    }
    this.paintPeers(torrent, true);
    this.setState("saving");
    this.saveFiles(files.map((file) => {
      const entry = torrent.files.find((candidate) => candidate.path.join("/") === file.path.join("/"));
      return { name: entry ? saveName(torrent, entry) : torrent.name, length: file.length, blob: file.blob };
    }));
    this.say(`Done: ${torrent.pieceCount} pieces verified, ${files.length} file${files.length === 1 ? "" : "s"} saved. Sharing with other viewers while this page is open.`);
    this.startButton.hidden = true;
    this.stopButton.hidden = false;
    this.setState("done");
  }

  stopSharing() {
    this.peers?.stop();
    this.stopButton.hidden = true;
    this.root.dataset.sharing = "stopped";
    this.say("Stopped sharing.");
  }

  /**
   * @param {Torrent} torrent
   * @param {boolean} [force]
   */
  paintPeers(torrent, force = false) {
    const peers = this.peers;
    const now = performance.now();
    if (!peers || (!force && now - this.lastPaint < 200)) return;
    this.lastPaint = now;
    const share = peers.progress;
    this.bar.value = Math.floor(share * 1000) / 10;
    this.bar.setAttribute("aria-valuetext", `${Math.floor(share * 100)} percent`);
    const parts = [`${formatBytes(Math.round(share * torrent.totalSize))} of ${formatBytes(torrent.totalSize)} verified`];
    if (share < 1 && peers.speed > 0) parts.push(`${formatBytes(peers.speed)}/s`);
    this.figures.textContent = parts.join(" · ");
    this.sources.textContent = `From other viewers: ${formatBytes(peers.fromPeers)} · from our web seed: ${formatBytes(peers.fromWebSeed)} · shared: ${formatBytes(peers.uploaded)}`;
    this.root.dataset.peerBytes = String(peers.fromPeers);
    this.root.dataset.webseedBytes = String(peers.fromWebSeed);
  }

  /** @param {WebSeedDownload} download */
  track(download) {
    this.download = download;
    download.addEventListener("progress", () => this.paint());
    download.addEventListener("corrupt", (event) => {
      this.root.dataset.corruptPieces = String(download.corruptCount);
      const index = /** @type {CustomEvent<number>} */ (event).detail;
      this.say(`Piece ${index} did not match its hash and was thrown away; fetching it again.`);
    });
    download.addEventListener("retry", (event) => {
      this.root.dataset.retries = String(download.retryCount);
      const { delay } = /** @type {CustomEvent<{delay: number}>} */ (event).detail;
      this.say(`Connection lost; retrying in ${formatDuration(delay / 1000)}. Verified pieces are kept.`);
    });
    download.addEventListener("paused", (event) => {
      this.setState("paused");
      this.paint(true);
      this.pauseButton.textContent = "Resume";
      this.say(/** @type {CustomEvent<string>} */ (event).detail === "connection"
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

  /** @param {WebSeedDownload} download */
  save(download) {
    this.setState("saving");
    const files = download.torrent.files.filter((file) => !file.pad);
    this.saveFiles(files.map((file) => ({
      name: saveName(download.torrent, file),
      length: file.length,
      blob: download.fileBlob(file),
    })));
    const corrupt = download.corruptCount
      ? ` ${download.corruptCount} damaged piece${download.corruptCount === 1 ? " was" : "s were"} fetched again.`
      : "";
    this.say(`Done: ${download.torrent.pieceCount} pieces verified, ${files.length} file${files.length === 1 ? "" : "s"} saved.${corrupt}`);
    this.root.dataset.corruptPieces = String(download.corruptCount);
    this.root.dataset.retries = String(download.retryCount);
    this.startButton.hidden = true;
    this.setState("done");
  }

  /**
   * Saves each file, and lists it for a browser that held a save back.
   * @param {{name: string, length: number, blob: Blob}[]} files
   */
  saveFiles(files) {
    this.savedList.replaceChildren();
    for (const { name, length, blob } of files) {
      const url = URL.createObjectURL(blob);
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      link.textContent = `${name} (${formatBytes(length)})`;
      item.append(link);
      this.savedList.append(item);
      triggerSave(url, name);
    }
    this.savedBox.hidden = false;
  }

  /**
   * The web seed's 410 carries no reason (it answers clients, not people); the .torrent
   * endpoint says it, so the panel asks there once.
   * @returns {Promise<string>}
   */
  async takedownMessage() {
    try {
      const response = await fetch(String(this.root.dataset.torrentUrl), { credentials: "same-origin", cache: "no-store" });
      if (response.status === 410) return (await torrentRefusal(response)).message;
    } catch {
      // offline: the plain message below still holds
    }
    return TAKEN_DOWN;
  }

  /**
   * A takedown is final: no "Try again", the reason in plain words.
   * @param {string} message
   */
  end(message) {
    this.paint(true);
    this.setState("removed");
    this.pauseButton.hidden = true;
    this.startButton.hidden = true;
    this.say(message);
  }

  /** @param {string} message */
  fail(message) {
    this.paint(true);
    this.setState("error");
    this.pauseButton.hidden = true;
    this.startButton.disabled = false;
    this.startButton.textContent = "Try again";
    this.say(message);
  }
}

for (const root of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-webseed-download]"))) {
  new DownloadPanel(root);
}

// A player whose source stops answering (a takedown: the web seed says 410 with no reason) asks
// the .torrent endpoint why, once, and says it under the player.
for (const player of /** @type {NodeListOf<HTMLMediaElement>} */ (document.querySelectorAll("[data-player]"))) {
  player.addEventListener("error", async () => {
    const block = player.closest(".downloads");
    const torrentUrl = block?.querySelector("[data-webseed-download]")?.getAttribute("data-torrent-url");
    const status = /** @type {HTMLElement | null} */ (player.closest("figure")?.querySelector("[data-player-status]") ?? null);
    if (!torrentUrl || !status) return;
    try {
      const response = await fetch(torrentUrl, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) return; // still allowed: a network hiccup the player reports itself
      status.textContent = (await torrentRefusal(response)).message;
      status.hidden = false;
      player.dataset.state = response.status === 410 ? "removed" : "error";
    } catch {
      // offline: the player's own error stands
    }
  });
}
