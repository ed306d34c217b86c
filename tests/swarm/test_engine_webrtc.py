"""The engine seeds to browsers: pieces over WebRTC, met through the WebSocket tracker.

The real ``manage.py runswarm`` seeds a paid item with no web seed anywhere. Each fan's client
is a libtorrent session standing in for a browser: it announces only to the WebSocket tracker
with its user's passkey, has no ``url-list``, and can make and take no TCP or uTP connection, so
every byte it gets crossed a WebRTC data channel from the engine. (ICE finds a path here through
the machine's own non-loopback addresses; on loopback alone it finds none.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import libtorrent as lt
import pytest
import redis
from django.conf import settings

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import services, torrents
from swarm.engine import websocket_announce_url
from swarm.models import Content, EngineNode
from tests.fixtures.content import Site
from tests.fixtures.processes import Child, wait_for
from tests.swarm.clients import client_settings, without_web_seeds

PIECE = 256 * 1024  # swarm.torrents.MIN_PIECE_LENGTH


class WebRtcOnlyClient:
    """A fan's WebTorrent peer: the WebSocket tracker is its only way to meet anyone."""

    def __init__(self, metainfo: bytes, tracker_url: str, folder: Path) -> None:
        settings = client_settings(
            0,
            # No TCP or uTP in or out: whoever it gets pieces from is a WebRTC peer.
            enable_outgoing_tcp=False,
            enable_incoming_tcp=False,
            enable_outgoing_utp=False,
            enable_incoming_utp=False,
            max_webtorrent_offers=3,
            alert_mask=lt.alert_category.error
            | lt.alert_category.status
            | lt.alert_category.tracker
            | lt.alert_category.connect
            | lt.alert_category.storage,
        )
        self.session = lt.session(lt.session_params(settings))
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(without_web_seeds(metainfo))
        params.trackers = [tracker_url]
        params.flags |= lt.torrent_flags.override_trackers
        params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        params.save_path = str(folder)
        self.folder = folder
        self.handle = self.session.add_torrent(params)
        self.connections: list[str] = []  # how each peer connection was made, as libtorrent says
        self.flushes = 0

    def status(self) -> lt.torrent_status:
        # Alerts die at the next pop_alerts(): keep what matters as they pass.
        for alert in self.session.pop_alerts():
            if isinstance(alert, lt.peer_connect_alert):
                # libtorrent names the socket type at the end: "(RTC)" for a data channel.
                self.connections.append(alert.message().rsplit(" ", 1)[-1])
            elif isinstance(alert, lt.cache_flushed_alert):
                self.flushes += 1
        return self.handle.status()

    def wait_until_complete(self) -> None:
        wait_for(lambda: self.status().is_seeding, timeout=120, what="the download over WebRTC")
        # A piece counts once its hash passed, which can be before its disk thread wrote it.
        flushes = self.flushes
        self.handle.flush_cache()
        wait_for(lambda: self.status() and self.flushes > flushes, what="the files on disk")


@pytest.fixture
def webrtc_peers() -> Iterator[list[WebRtcOnlyClient]]:
    """Keeps the test's WebRTC peers until after the live site stopped (requested before it).

    A libtorrent session's destructor closes its WebSocket tracker connection holding the GIL,
    which the site's thread in this process needs to answer that close: destroyed while the
    site runs, it never returns."""
    peers: list[WebRtcOnlyClient] = []
    yield peers
    peers.clear()


def join(
    peers: list[WebRtcOnlyClient], site: Site, user: User, content: Content, folder: Path
) -> WebRtcOnlyClient:
    """``user``'s WebRTC peer for ``content``, announcing with the user's passkey."""
    http_url = site.url + f"/announce/{services.active_passkey(user).key}"
    # A user without access still gets the torrent's info dict from a leaked .torrent.
    metainfo = bytes(content.metainfo or b"")
    peer = WebRtcOnlyClient(metainfo, websocket_announce_url(http_url), folder)
    peers.append(peer)
    return peer


def tracker_heard(user: User) -> bool:
    """Whether a frame with ``user``'s passkey reached the WebSocket tracker (it counts each one
    against the passkey's rate budget, refused or not)."""
    passkey = services.active_passkey(user).key
    return bool(redis_client().exists(f"wst:rate:{passkey}"))


def in_websocket_swarm(content: Content) -> set[str]:
    """The passkeys of the WebSocket tracker's swarm of ``content`` (swarm.tracker)."""
    entries = cast(list[bytes], redis_client().hvals(f"wst:{content.infohash}:h"))
    return {entry.decode().split(" ")[1] for entry in entries}


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def test_the_engine_sends_a_paid_item_over_webrtc_to_the_entitled_fan_only(
    webrtc_peers: list[WebRtcOnlyClient],
    creator: Creator,
    fan: User,
    stranger: User,
    publish: Callable[..., Content],
    site: Site,
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a paid film the fan bought, seeded by the engine; no web seed anywhere
    film = os.urandom(8 * PIECE + 777)
    content = publish(creator, {"film.mp4": film}, title="Film", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    engine = site_engine()
    wait_for(lambda: EngineNode.objects.get(name=engine.name).torrents == 1, what="seeding")
    # and the desktop clients' torrent names no WebSocket tracker (the engine's list is its own)
    assert b"ws://" not in torrents.personal_metainfo(content, fan)

    # when: a stranger's WebRTC peer, with the info dict and their own passkey, asks first
    outsider = join(webrtc_peers, site, stranger, content, tmp_path / "stranger")
    wait_for(lambda: tracker_heard(stranger), what="the stranger's announce")
    # and the fan's WebRTC peer joins
    peer = join(webrtc_peers, site, fan, content, tmp_path / "fan")
    peer.wait_until_complete()

    # then: the fan has the film, byte for byte, from the engine over WebRTC only
    assert (peer.folder / "film.mp4").read_bytes() == film
    assert peer.connections
    assert set(peer.connections) == {"(RTC)"}
    assert peer.status().total_payload_download >= len(film)
    # and the stranger is in no swarm, met nobody and has not one byte, though the engine
    # sent its offers to the swarm meanwhile
    assert in_websocket_swarm(content) == {
        services.active_passkey(fan).key,
        services.engine_passkey(EngineNode.objects.get(name=engine.name)).key,
    }
    status = outsider.status()
    assert outsider.connections == []
    assert (status.total_payload_download, status.num_pieces) == (0, 0)


def test_the_websocket_tracker_url_is_the_http_trackers_on_ws_with_the_same_passkey() -> None:
    assert (
        websocket_announce_url("http://10.0.0.5:8000/announce/k3y")
        == "ws://10.0.0.5:8000/ws/announce/k3y"
    )
    assert (
        websocket_announce_url("https://creators.example/site/announce/k3y")
        == "wss://creators.example/site/ws/announce/k3y"
    )
    with pytest.raises(ValueError, match="not an HTTP tracker announce URL"):
        websocket_announce_url("udp://creators.example/announce/k3y")
    with pytest.raises(ValueError, match="not an HTTP tracker announce URL"):
        websocket_announce_url("https://creators.example/announce/")
