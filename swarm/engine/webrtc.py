"""WebRTC (WebTorrent): the engine seeds to browsers as well as to desktop clients.

libtorrent 2.1 speaks WebTorrent: it announces to a ``ws://``/``wss://`` tracker, which relays
its WebRTC offers to browsers in the swarm (and theirs to it), and sends pieces over the data
channels that come of it. The platform's WebSocket tracker (``swarm.tracker.websocket``) is that
tracker: it relays offers only among peers whose passkey may have the torrent, and that relay is
what admits a WebRTC peer to a paid torrent. The session's ip_filter does not hold data channels:
libtorrent 2.1.1 checks no filter when a data channel opens (it served one from an address the
filter blocked), and when the filter changes it drops the data channels whose ICE address is
blocked, an address the tracker never saw (here the host's own, not the 127.0.0.1 it admitted).
So the filter cannot take a WebRTC peer's access back, and a revoked fan's address may well stay
admitted (a NAT shared with an entitled fan, another paid item they still own).

Access is taken back by torrent instead (``RefusedPeers``, ``drop_connections``): the tracker
marks a peer it took out of a swarm because its access ended (``swarm.revocations``), and the
engine drops every connection of that paid torrent, once per mark. A peer id cannot single out
the refused fan's connection: the engine sees the peer id of each connection's handshake, which
the fan's client chooses freely (a libtorrent fan's handshakes carried other ids than the one
it announced). libtorrent's bindings cannot close one peer anyway, so the torrent is paused and
resumed: its fresh announce sends new offers to the WebSocket swarm, which the refused peer is
no longer in, so the entitled browsers reconnect while the refused one gets nothing more.
Measured on loopback: the data channel closed 1.5 s after a refund, and a fan who joined next
was connected within about a second. Only torrents whose WebSocket swarm lost
a peer that way, and that have peers connected, are touched. See ARCHITECTURE, "The engine
seeds to browsers".

The engine announces there with its own passkey, at the site that answers its HTTP announces.
That ``ws://`` tracker is the engine's own: desktop clients get the metainfo of
``swarm.torrents``, which names only the HTTP tracker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import libtorrent as lt

# The trackers' paths before the passkey: the HTTP tracker's (swarm.urls, "announce") and the
# WebSocket tracker's (swarm.tracker.websocket routes it in front of Django's URLs).
HTTP_ANNOUNCE_PATH: Final = "/announce/"
WEBSOCKET_ANNOUNCE_PATH: Final = "/ws/announce/"


@dataclass(frozen=True)
class WebRtcConfig:
    """How the engine meets browsers. Each pending offer holds a UDP socket until a browser
    answers or ``webtorrent_connection_timeout`` passes, so ``max_offers`` stays small."""

    max_offers: int = 3
    # host:port of a STUN server; empty: none (libtorrent's default is a public Google host).
    stun_server: str = ""

    def session_settings(self) -> lt.settings_pack:
        return {
            "max_webtorrent_offers": self.max_offers,
            "webtorrent_stun_server": self.stun_server,
        }


def websocket_announce_url(announce_url: str) -> str:
    """The WebSocket tracker's URL for the passkey of the HTTP tracker's ``announce_url``.

    Both trackers are the site's and take the same passkey: ``<site>/announce/<passkey>`` is
    announced over WebSockets at ``<site>/ws/announce/<passkey>``; ``http`` becomes ``ws``,
    ``https`` becomes ``wss``.
    """
    parts = urlsplit(announce_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    head, found, passkey = parts.path.rpartition(HTTP_ANNOUNCE_PATH)
    if scheme is None or not found or not passkey:
        raise ValueError(f"not an HTTP tracker announce URL: {announce_url!r}")
    return urlunsplit((scheme, parts.netloc, head + WEBSOCKET_ANNOUNCE_PATH + passkey, "", ""))


class RefusedPeers:
    """The WebSocket tracker's refusal marks (``swarm.revocations.refused_peers``) this engine
    has acted on: each mark cuts its torrent once."""

    def __init__(self) -> None:
        self._seen: frozenset[tuple[str, str]] = frozenset()

    def news(self, refused: Mapping[str, frozenset[str]]) -> set[str]:
        """The infohashes (hex) with a mark not seen before; marks gone from ``refused`` (past
        their hold) are forgotten."""
        marks = frozenset(
            (infohash, peer_id) for infohash, peer_ids in refused.items() for peer_id in peer_ids
        )
        news = {infohash for infohash, _ in marks - self._seen}
        self._seen = marks
        return news


def drop_connections(handle: lt.torrent_handle) -> bool:
    """Close every connection of the torrent of ``handle``, data channels included; False when
    it had none (nothing done).

    libtorrent's bindings cannot close one peer, so the torrent is paused and resumed at once:
    pausing closes all its connections, resuming announces again (``stopped``, then
    ``started``, with new WebRTC offers) so that the entitled reconnect."""
    if not handle.status().num_peers:
        return False
    handle.pause()
    handle.resume()
    return True
