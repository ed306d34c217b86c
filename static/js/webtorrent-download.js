// @ts-check
// The browser download with P2P: one WebTorrent client fetching from the platform's web seed and
// from other viewers of the same item (WebRTC, found through the platform's WebSocket tracker,
// which admits only accounts allowed to download it). WebTorrent checks every piece with SHA-1
// against the torrent's hashes before it keeps or shares it, as the web-seed-only path does.
//
// The client is loaded on demand (npm's browser build, served as a static file), so a page
// without P2P, or a browser without WebRTC, never loads it nor opens the tracker.

// The page tells the server how many bytes came from peers this often, and once more at the end,
// for the creator's "bandwidth saved" figure.
const REPORT_EVERY_MS = 60_000;
// A download that received nothing for this long asks the tracker for peers again (see
// ``rejoinIfStalled``) instead of waiting for the tracker's interval (two minutes).
const STALL_MS = 10_000;
// How long the page waits for WebTorrent's service worker to take control of it before its
// players keep their web-seed source (a page loaded with the cache bypassed stays uncontrolled).
const CONTROL_WAIT_MS = 5_000;

/** Whether this browser can be a peer at all: WebTorrent's peers are WebRTC data channels. */
export function peerCapable() {
  return typeof globalThis.RTCPeerConnection === "function";
}

/**
 * A saved file of the download.
 * @typedef {{path: string[], length: number, blob: Blob}} PeerFile
 */

/**
 * The parts of WebTorrent's objects used here (the bundle ships no types).
 * @typedef {{type: string, destroyed: boolean, destroy: () => void, on: (event: "download", listener: (bytes: number) => void) => void}} Wire
 * @typedef {{path: string, name: string, length: number, blob: () => Promise<Blob>, streamTo: (element: HTMLMediaElement) => void}} WebTorrentFile
 * @typedef {object} WebTorrentTorrent
 * @property {string} name
 * @property {string} path
 * @property {number} length
 * @property {number} progress
 * @property {number} downloaded
 * @property {number} uploaded
 * @property {number} downloadSpeed
 * @property {number} numPeers
 * @property {boolean} done
 * @property {WebTorrentFile[]} files
 * @property {Wire[]} wires
 * @property {{tracker?: {update: () => void} | null} | null} discovery
 * @property {(event: string, listener: (value: any) => void) => void} on
 * @typedef {object} WebTorrentClient
 * @property {(torrent: Uint8Array, options: object) => WebTorrentTorrent} add
 * @property {(event: string, listener: (value: any) => void) => void} on
 * @property {() => void} destroy
 * @property {(options: {controller: ServiceWorkerRegistration}) => void} createServer
 */

/**
 * Whether a service worker controls this page, waiting up to ``ms`` for one to claim it.
 * @param {number} ms
 * @returns {Promise<boolean>}
 */
function controlled(ms) {
  const workers = navigator.serviceWorker;
  if (workers.controller) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = window.setTimeout(() => resolve(workers.controller !== null), ms);
    workers.addEventListener(
      "controllerchange",
      () => {
        window.clearTimeout(timer);
        resolve(true);
      },
      { once: true },
    );
  });
}

/** @param {unknown} error */
function asError(error) {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Downloads one torrent with WebTorrent and keeps sharing it until ``stop()``. Events:
 * "progress" (bytes arrived), "done". ``fromPeers`` and ``fromWebSeed`` count received bytes
 * by where they came from (a wire to the web seed, or a WebRTC wire to another viewer or the
 * platform's engine).
 */
export class PeerDownload extends EventTarget {
  /**
   * @param {Uint8Array} metainfo the browser's .torrent: WebSocket tracker and web seed
   * @param {{moduleUrl: string, reportUrl: string, csrfToken: string, serviceWorkerUrl: string, players: HTMLMediaElement[]}} options
   */
  constructor(metainfo, options) {
    super();
    this.metainfo = metainfo;
    this.options = options;
    this.fromPeers = 0;
    this.fromWebSeed = 0;
    this.reportedPeers = 0;
    /** @type {WebTorrentClient | null} */
    this.client = null;
    /** @type {WebTorrentTorrent | null} */
    this.torrent = null;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.reportTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.stallTimer = undefined;
    this.receivedAtLastLook = 0;
    this.stopped = false;
  }

  /** Share of the torrent's pieces verified, 0 to 1. */
  get progress() {
    return this.torrent?.progress ?? 0;
  }

  get speed() {
    return this.torrent?.downloadSpeed ?? 0;
  }

  get uploaded() {
    return this.torrent?.uploaded ?? 0;
  }

  /**
   * Resolves with the verified files once every piece is in; the client goes on sharing them.
   * @returns {Promise<PeerFile[]>}
   */
  async run() {
    const module = /** @type {{default: new (options: object) => WebTorrentClient}} */ (
      await import(this.options.moduleUrl)
    );
    const WebTorrent = module.default;
    // No DHT, local discovery or UPnP (none exists in a browser, and a private torrent must use
    // its tracker only); no ICE servers: WebRTC's default names a public STUN host, and the
    // platform sends nobody's address to a third party on the fan's behalf.
    const client = new WebTorrent({
      dht: false,
      lsd: false,
      utp: false,
      natUpnp: false,
      natPmp: false,
      tracker: { rtcConfig: { iceServers: [] } },
    });
    this.client = client;
    const torrent = client.add(this.metainfo, { destroyStoreOnDestroy: true });
    this.torrent = torrent;
    torrent.on("wire", (/** @type {Wire} */ wire) => {
      const fromSeed = wire.type === "webSeed";
      wire.on("download", (bytes) => {
        if (fromSeed) this.fromWebSeed += bytes;
        else this.fromPeers += bytes;
        this.dispatchEvent(new Event("progress"));
      });
    });
    torrent.on("ready", () => this.stream(torrent));
    this.reportTimer = setInterval(() => this.report(), REPORT_EVERY_MS);
    this.stallTimer = setInterval(() => this.rejoinIfStalled(), STALL_MS);
    await new Promise((resolve, reject) => {
      client.on("error", (error) => reject(asError(error)));
      torrent.on("error", (error) => reject(asError(error)));
      torrent.on("done", resolve);
      if (torrent.done) resolve(undefined);
    });
    clearInterval(this.stallTimer);
    this.report();
    this.dispatchEvent(new Event("done"));
    return Promise.all(torrent.files.map(async (file) => ({
      // The path below the torrent's folder: [] for a single-file torrent, as parseTorrent says.
      path: torrent.files.length === 1 && file.path === file.name ? [] : file.path.split("/").slice(1),
      length: file.length,
      blob: await file.blob(),
    })));
  }

  /**
   * Points the page's idle players at their files in the torrent, so they play from the swarm
   * while it downloads (WebTorrent's service worker answers the stream's Range requests from the
   * pieces, fetching the ones asked for first). A player already playing keeps its web-seed
   * source; without service workers every player does.
   * @param {WebTorrentTorrent} torrent
   */
  async stream(torrent) {
    const players = this.options.players.filter((player) => player.paused && player.currentTime === 0);
    if (players.length === 0 || !("serviceWorker" in navigator) || !this.client) return;
    try {
      const registration = await navigator.serviceWorker.register(this.options.serviceWorkerUrl, { scope: "/" });
      await navigator.serviceWorker.ready;
      // Active is not yet in control: the worker claims this page a moment later, and a stream
      // URL asked before that goes to the server, which has no such path (a 404, no video).
      if (!(await controlled(CONTROL_WAIT_MS)) || this.stopped) return;
      this.client.createServer({ controller: registration });
    } catch {
      return;  // no worker (a private window may refuse one): the web seed still plays
    }
    for (const player of players) {
      const path = decodeURIComponent(new URL(player.currentSrc || player.src, location.href).pathname);
      const file = torrent.files.find((candidate) => path.endsWith(`/${candidate.path}`));
      if (!file) continue;
      file.streamTo(player);
      player.dataset.source = "swarm";
    }
  }

  /**
   * Called every ``STALL_MS`` while downloading: when no byte arrived since the last call, the
   * peer connections are dropped and the tracker is asked for peers at once. A WebRTC data
   * channel can go quiet or close (the seeder froze or restarted, a viewer left) and WebTorrent
   * finds no new WebRTC peer until its next announce, two minutes later; the engine, which
   * announces every half hour, would not offer itself again before that either. A new announce
   * carries new offers, which the tracker relays to the peers still in the swarm.
   */
  rejoinIfStalled() {
    const torrent = this.torrent;
    if (!torrent || torrent.done || this.stopped) return;
    const received = this.fromPeers + this.fromWebSeed;
    if (received !== this.receivedAtLastLook) {
      this.receivedAtLastLook = received;
      return;
    }
    for (const wire of [...torrent.wires]) {
      if (wire.type !== "webSeed" && !wire.destroyed) wire.destroy();
    }
    torrent.discovery?.tracker?.update();
  }

  /** Stops downloading and sharing: the connections close, and the tracker is told. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.reportTimer);
    clearInterval(this.stallTimer);
    this.report();
    this.client?.destroy();
  }

  /**
   * Sends the bytes from peers since the last report (self-reported: the creator's figure says
   * so). ``keepalive`` lets the last one out while the page is closing.
   */
  report() {
    // A block fetched twice at the end of a download (from two peers) counts twice here; the
    // server refuses a report above the item's size, so one report never claims more.
    const count = Math.min(this.fromPeers - this.reportedPeers, this.torrent?.length ?? Infinity);
    if (count <= 0) return;
    this.reportedPeers = this.fromPeers;
    fetch(this.options.reportUrl, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.options.csrfToken },
      body: JSON.stringify({ bytes_from_peers: count }),
    }).catch(() => {
      // A lost report only makes the creator's saving look smaller; the download is unaffected.
    });
  }
}
