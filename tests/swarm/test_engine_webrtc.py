"""The engine seeds to browsers: pieces over WebRTC, met through the WebSocket tracker.

The real ``manage.py runswarm`` seeds a paid item with no web seed anywhere. Each fan's client
is a libtorrent session standing in for a browser: it announces only to the WebSocket tracker
with its user's passkey, has no ``url-list``, and can make and take no TCP or uTP connection, so
every byte it gets crossed a WebRTC data channel from the engine. (ICE gathers no candidate on
loopback. So each fan's client runs in a network namespace of the test, whose only address is
its end of a veth pair and which has no route elsewhere; the site is served on the host's end.
The engine runs outside and offers every address of this machine; the client can reach none of
them but the pair's host end, so ICE pairs the two over the pair only.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import services, torrents
from swarm.engine import websocket_announce_url
from swarm.models import Content, EngineNode
from tests.fixtures.content import Site
from tests.fixtures.processes import Child, wait_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.webrtc_peers import WebRtcPeers, in_websocket_swarm, join, tracker_heard

PIECE = 256 * 1024  # swarm.torrents.MIN_PIECE_LENGTH


# The site on the host's end of the test's veth pair (tests.fixtures.webrtc_peers).
@pytest.fixture
def asgi_server(site_on_peer_network: AsgiServer) -> AsgiServer:
    return site_on_peer_network


def test_the_engine_sends_a_paid_item_over_webrtc_to_the_entitled_fan_only(
    webrtc_peers: WebRtcPeers,
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
    # and the film crossed the test's veth pair, out of the host's end. (Not the far end's
    # address as libtorrent names it: that has once been the engine's candidate on this
    # machine's outside interface, which the namespace has no route to.)
    sent = Path(f"/sys/class/net/{webrtc_peers.network.host_device}/statistics/tx_bytes")
    assert int(sent.read_text()) >= len(film)
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
