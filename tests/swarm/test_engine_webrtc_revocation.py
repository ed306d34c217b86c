"""A revoked fan loses the engine's WebRTC data channel mid-download.

The engine's ip_filter does not hold data channels, and a revoked fan's address may well stay
admitted: here a neighbour behind the same address (a shared NAT) owns the item too and has a
desktop client announcing. So only the WebSocket tracker's word can cut the fan off: it takes
the fan's peer out of the swarm and marks it, and the real ``runswarm`` drops that torrent's
connections and announces again, so that it meets the entitled only. Another paid torrent,
whose swarm lost nobody, keeps its data channels. The fan's client is a
libtorrent session that can only speak WebRTC (``test_engine_webrtc``), downloading slowly so
that the revocation lands mid-download. It runs in a network namespace of the test, behind the
address the neighbour announces from too, and meets the engine over the test's veth pair only
(ICE gathers nothing on loopback; the namespace has no route but the pair).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import services
from swarm.models import Content, EngineNode
from tests.fixtures.content import Site
from tests.fixtures.netns import PeerNetwork
from tests.fixtures.processes import Child, wait_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.webrtc_peers import WebRtcOnlyClient, WebRtcPeers, in_websocket_swarm, join

PIECE = 256 * 1024  # swarm.torrents.MIN_PIECE_LENGTH
# The fan's download rate: the whole film would take about a minute, so the revocation (the
# tracker deciding again, then the engine's next tick) lands well before the end.
SLOW = 64 * 1024
# Hang guard only.
CUT_TIMEOUT = 40.0
# A data channel whose set-up fails (its offer timed out on a loaded machine) is tried again with
# the next announce's offers, TRACKER_WS_INTERVAL_SECONDS (120 s) later: the first bytes of a
# peer may wait that long.
FIRST_BYTES_TIMEOUT = 150.0
# An HTTP GET of argv[1], its body to stdout: run inside the namespace.
_FETCH = (
    "import sys, urllib.request\n"
    "with urllib.request.urlopen(sys.argv[1], timeout=10) as reply:\n"
    "    sys.stdout.buffer.write(reply.read())\n"
)


# The site on the host's end of the test's veth pair (tests.fixtures.webrtc_peers).
@pytest.fixture
def asgi_server(site_on_peer_network: AsgiServer) -> AsgiServer:
    return site_on_peer_network


def announce_over_http(network: PeerNetwork, site: Site, user: User, content: Content) -> None:
    """``user``'s desktop client announces ``content`` from the namespace's address (started,
    nothing downloaded yet): the HTTP tracker admits the address to the engine."""
    query = urllib.parse.urlencode(
        {
            "info_hash": bytes.fromhex(content.infohash or ""),
            "peer_id": b"-TR3000-neighbour001",
            "port": 51413,
            "uploaded": 0,
            "downloaded": 0,
            "left": 1,
            "compact": 1,
            "event": "started",
        },
        # %20, not "+", for a 0x20 byte of the infohash, as BitTorrent clients send it (the
        # tracker reads "+" as itself, not as form encoding's space)
        quote_via=urllib.parse.quote,
    )
    url = f"{site.url}/announce/{services.active_passkey(user).key}?{query}"
    reply = subprocess.run(
        network.command([sys.executable, "-c", _FETCH, url]), capture_output=True, check=True
    )
    assert reply.stdout.startswith(b"d"), reply
    assert b"failure reason" not in reply.stdout


def connected(peer: WebRtcOnlyClient) -> int:
    return int(peer.status().num_peers)


def test_a_revoked_fan_loses_the_engines_data_channel_and_is_not_met_again(
    webrtc_peers: WebRtcPeers,
    creator: Creator,
    fan: User,
    stranger: User,
    publish: Callable[..., Content],
    site: Site,
    site_engine: Callable[..., Child],
    settings: Settings,
    tmp_path: Path,
) -> None:
    # given: a paid film the fan and their neighbour (the "stranger" persona) both bought, and
    # a paid series the neighbour bought, seeded by the real engine, no web seed anywhere
    # (the revocation itself makes the tracker decide again, not its periodic recheck)
    settings.TRACKER_WS_RECHECK_SECONDS = 3600
    neighbour = stranger
    film = os.urandom(16 * PIECE)
    content = publish(creator, {"film.mp4": film}, title="Film", access=Content.Access.PAID)
    purchase = ledger.grant(fan, content, Grant.Source.PURCHASE)
    ledger.grant(neighbour, content, Grant.Source.PURCHASE)
    episode = os.urandom(16 * PIECE)
    series = publish(creator, {"episode.mp4": episode}, title="Series", access=Content.Access.PAID)
    ledger.grant(neighbour, series, Grant.Source.PURCHASE)
    engine = site_engine()
    wait_for(lambda: EngineNode.objects.get(name=engine.name).torrents == 2, what="seeding")
    engine_passkey = services.engine_passkey(EngineNode.objects.get(name=engine.name)).key
    # and the neighbour's desktop client announced from the same address as the fan: it stays
    # admitted to the engine whatever happens to the fan's purchase
    announce_over_http(webrtc_peers.network, site, neighbour, content)
    # and the fan's WebRTC peer is downloading from the engine, slowly
    peer = join(webrtc_peers, site, fan, content, tmp_path / "fan")
    peer.set_download_limit(SLOW)
    wait_for(
        lambda: peer.status().total_payload_download >= PIECE,
        timeout=FIRST_BYTES_TIMEOUT,
        what="the fan's first piece",
    )
    assert connected(peer) >= 1
    # and the neighbour's WebRTC peer is downloading the series from the engine, slowly
    watcher = join(webrtc_peers, site, neighbour, series, tmp_path / "series")
    watcher.set_download_limit(SLOW)
    wait_for(
        lambda: watcher.status().total_payload_download >= PIECE,
        timeout=FIRST_BYTES_TIMEOUT,
        what="the series",
    )

    # when: the purchase is refunded mid-download
    ledger.revoke_grant(purchase.pk, "refunded")

    # then: the engine drops the data channel, the film far from complete
    wait_for(lambda: connected(peer) == 0, timeout=CUT_TIMEOUT, what="the engine cutting the fan")
    received = peer.status().total_payload_download
    connections = len(peer.connections)
    assert received < len(film) // 2
    assert set(peer.connections) == {"(RTC)"}
    # and the fan is out of the WebSocket swarm
    assert services.active_passkey(fan).key not in in_websocket_swarm(content)
    # and the series, whose swarm lost nobody, kept its data channels and goes on
    watched = watcher.status().total_payload_download
    wait_for(lambda: watcher.status().total_payload_download > watched, what="more of the series")
    assert set(watcher.connections) == {"(RTC)"}
    watcher_connections = len(watcher.connections)

    # when: the neighbour's WebRTC peer fetches the whole film afterwards (the engine paused
    # and resumed the torrent, and announced again with new offers)
    other = join(webrtc_peers, site, neighbour, content, tmp_path / "neighbour")
    other.wait_until_complete()

    # then: the entitled neighbour has it, byte for byte, over WebRTC
    assert (other.folder / "film.mp4").read_bytes() == film
    assert set(other.connections) == {"(RTC)"}
    # and meanwhile the fan got not one more byte and was never met again: none of the
    # engine's new offers reached it
    status = peer.status()
    assert (status.total_payload_download, status.num_peers) == (received, 0)
    assert len(peer.connections) == connections
    assert in_websocket_swarm(content) == {services.active_passkey(neighbour).key, engine_passkey}
    assert not status.is_seeding
    # and the series was never cut: no connection of it was made again
    assert connected(watcher) >= 1
    assert len(watcher.connections) == watcher_connections
