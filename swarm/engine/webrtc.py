"""WebRTC (WebTorrent): the engine seeds to browsers as well as to desktop clients.

libtorrent 2.1 speaks WebTorrent: it announces to a ``ws://``/``wss://`` tracker, which relays
its WebRTC offers to browsers in the swarm (and theirs to it), and sends pieces over the data
channels that come of it. The platform's WebSocket tracker (``swarm.tracker.websocket``) is that
tracker: it relays offers only among peers whose passkey may have the torrent, and that relay is
what admits a WebRTC peer to a paid torrent. The session's ip_filter does not hold data channels
(libtorrent 2.1.1 served one from an address the filter blocked), so it cannot take a WebRTC
peer's access back mid-download: see ARCHITECTURE, "The engine seeds to browsers".

The engine announces there with its own passkey, at the site that answers its HTTP announces.
That ``ws://`` tracker is the engine's own: desktop clients get the metainfo of
``swarm.torrents``, which names only the HTTP tracker.
"""

from __future__ import annotations

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
