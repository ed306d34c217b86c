"""BitTorrent clients a fan might use, driven from tests: a libtorrent session and aria2c."""

from __future__ import annotations

import contextlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import libtorrent as lt

from tests.fixtures.processes import free_port, wait_for

# Hang guards only: a few MiB over loopback take well under a second.
DOWNLOAD_TIMEOUT = 60.0
# How long a finished client waits for the answer to its "stopped" announce (see _download).
STOP_ANNOUNCE_WAIT = 10.0


def without_web_seeds(metainfo: bytes) -> bytes:
    """The same torrent (same infohash) with its BEP 19 ``url-list`` taken out."""
    decoded = cast(dict[bytes, Any], lt.bdecode(metainfo))
    decoded.pop(b"url-list", None)
    return lt.bencode(decoded)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by its path relative to ``root``."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- libtorrent --------------------------------------------------------------------------------


def client_settings(listen_port: int, **extra: object) -> lt.settings_pack:
    """A fan's libtorrent that reaches nothing but our loopback site and engine."""
    pack: lt.settings_pack = {
        "listen_interfaces": f"127.0.0.1:{listen_port}",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        "webtorrent_stun_server": "",
        # The engine and this client share 127.0.0.1.
        "allow_multiple_connections_per_ip": True,
        # The destructor's wait for "stopped" answers holds the GIL our in-process tracker needs.
        "stop_tracker_timeout": 1,
        "alert_mask": (
            lt.alert_category.error | lt.alert_category.status | lt.alert_category.tracker
        ),
    }
    pack.update(extra)  # type: ignore[typeddict-item]
    return pack


@dataclass
class LibtorrentDownload:
    """What a libtorrent session saw while it downloaded one torrent."""

    web_seeds: list[str]
    payload_downloaded: int
    # BitTorrent PIECE messages received: libtorrent counts them in bt_peer_connection only,
    # so a web seed's bytes never show up here.
    pieces_from_peers: int
    peers_from_tracker: list[int]  # num_peers of every tracker reply
    errors: list[str] = field(default_factory=list)


def libtorrent_download(metainfo: bytes, save_path: Path) -> LibtorrentDownload:
    """Download ``metainfo`` into ``save_path`` with a fresh session; the files are complete
    and closed when this returns."""
    session = lt.session(lt.session_params(client_settings(free_port())))
    download = _download(session, metainfo, save_path)
    # The destructor joins the session's disk threads: every byte is in the files after this.
    del session
    return download


def _download(session: lt.session, metainfo: bytes, save_path: Path) -> LibtorrentDownload:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(metainfo)
    params.save_path = str(save_path)
    # Started now and not auto-managed, so that pausing it at the end sticks.
    params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    handle = session.add_torrent(params)
    replies: list[int] = []
    errors: list[str] = []
    stats: dict[str, int] = {}
    stop_announced = stop_answered = False

    def pump() -> None:
        nonlocal stop_announced, stop_answered
        # Alert objects die at the next pop_alerts(): copy what is needed right here.
        for alert in session.pop_alerts():
            if isinstance(alert, lt.tracker_announce_alert):
                stop_announced = stop_announced or alert.event == lt.event_t.stopped
            elif isinstance(alert, lt.tracker_reply_alert | lt.tracker_error_alert):
                stop_answered = stop_announced
                if isinstance(alert, lt.tracker_reply_alert):
                    replies.append(alert.num_peers)
                else:
                    errors.append(alert.message())
            elif isinstance(alert, lt.session_stats_alert):
                stats.update(alert.values)
            elif alert.category() & lt.alert_category.error:
                errors.append(alert.message())

    def finished() -> bool:
        pump()
        return bool(handle.status().is_seeding)

    wait_for(finished, timeout=DOWNLOAD_TIMEOUT, what="libtorrent to finish the download")
    status = handle.status()
    web_seeds = sorted(handle.url_seeds())
    session.post_session_stats()

    def counted() -> bool:
        pump()
        return bool(stats)

    wait_for(counted, timeout=DOWNLOAD_TIMEOUT, what="libtorrent's session stats")

    # Our tracker answers from a thread of this process, and the session's destructor holds the
    # GIL while it waits (up to stop_tracker_timeout) for the "stopped" announce: so announce it
    # here, by pausing, and wait for the answer first. libtorrent sends no "stopped" for a
    # tracker it holds no completed announce with (one still in flight when the download
    # finished, under load): then there is nothing to wait for, and the destructor's own wait
    # is bounded by the client's short stop_tracker_timeout.
    handle.pause()

    def stop_acknowledged() -> bool:
        pump()
        return stop_answered

    with contextlib.suppress(AssertionError):
        wait_for(stop_acknowledged, timeout=STOP_ANNOUNCE_WAIT, what="the stopped announce")
    session.remove_torrent(handle)
    return LibtorrentDownload(
        web_seeds=web_seeds,
        payload_downloaded=status.total_payload_download,
        pieces_from_peers=stats["ses.num_incoming_piece"],
        peers_from_tracker=replies,
        errors=errors,
    )


# --- aria2 -------------------------------------------------------------------------------------


@dataclass
class Aria2Download:
    """How an ``aria2c`` run went, read from its exit code and its own info-level log."""

    returncode: int
    output: str
    pieces_by_peer: dict[str, set[int]]  # "ip:port" -> indices of the pieces it sent
    web_requests: set[str]  # paths of the HTTP GETs other than announces

    def __str__(self) -> str:
        return self.output


# aria2's log lines for a received block and for an HTTP request it sent:
#   CUID#14 - From: 127.0.0.1:35857 piece index=4, begin=0, length=16384
#   GET /webseed/1/open/concert.mkv HTTP/1.1
_PIECE_RECEIVED = re.compile(r"From: (\S+) piece index=(\d+),")
_HTTP_GET = re.compile(r"^GET (\S+) HTTP/1\.1$", re.MULTILINE)


def aria2_download(metainfo: bytes, directory: Path) -> Aria2Download:
    """Run ``aria2c`` on ``metainfo`` until it has the whole torrent, then let it exit."""
    directory.mkdir(parents=True, exist_ok=True)
    torrent = directory.parent / f"{directory.name}.torrent"
    torrent.write_bytes(metainfo)
    return _aria2(str(torrent), directory)


def aria2_magnet_download(magnet: str, directory: Path) -> Aria2Download:
    """Run ``aria2c`` on a magnet link: it fetches the metadata from peers, then the files."""
    directory.mkdir(parents=True, exist_ok=True)
    return _aria2(magnet, directory)


def _aria2(target: str, directory: Path) -> Aria2Download:
    log = directory.parent / f"{directory.name}.aria2.log"
    command = [
        "aria2c",
        "--no-conf",
        f"--dir={directory}",
        # Leave as soon as the download is complete and checked.
        "--seed-time=0",
        # Nothing but our tracker may hand out peers.
        "--bt-enable-lpd=false",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--enable-peer-exchange=false",
        f"--listen-port={free_port()}",
        "--file-allocation=none",
        "--check-integrity=true",
        "--disable-ipv6=true",
        "--summary-interval=0",
        "--console-log-level=warn",
        f"--log={log}",
        "--log-level=info",
        target,
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT, check=False
        )
        returncode, output = result.returncode, result.stdout + result.stderr
    except subprocess.TimeoutExpired:  # killed by run(); its log tells where it hung
        returncode, output = -1, f"aria2c still running after {DOWNLOAD_TIMEOUT} s"
    log_text = log.read_text(errors="replace")
    pieces: dict[str, set[int]] = {}
    for peer, index in _PIECE_RECEIVED.findall(log_text):
        pieces.setdefault(peer, set()).add(int(index))
    return Aria2Download(
        returncode=returncode,
        output=f"{output}\n--- aria2 log ---\n{log_text}",
        pieces_by_peer=pieces,
        web_requests={
            path for path in _HTTP_GET.findall(log_text) if not path.startswith("/announce/")
        },
    )
