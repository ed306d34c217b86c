"""The engine serves a paid torrent only to addresses the tracker admitted (swarm.admission).

Every test runs the real ``manage.py runswarm`` against the live site, and fans' libtorrent
sessions in this process, each bound to its own loopback address (``listen_interfaces`` and
``outgoing_interfaces``), so the engine tells them apart by address as it would on the internet:
A (127.0.0.2) is an entitled fan whose client announces with their passkey; B (127.0.0.3) has
the info dict and the engine's address, and no passkey. No web seed anywhere: every byte a
client gets comes from the engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import admission, torrents
from swarm.models import Content
from tests.fixtures.bittorrent import (
    FAN_A,
    KIB,
    PIECE,
    BoundClient,
    engine_endpoint,
    engine_peers,
    info_dict_only,
    seeding,
)
from tests.fixtures.processes import Child, wait_for
from tests.swarm.clients import without_web_seeds

STRANGER_B = "127.0.0.3"


def test_a_paid_torrent_reaches_the_entitled_fan_and_not_a_peer_with_its_info_dict(
    creator: Creator,
    fan: User,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a paid song the fan bought, seeded by the engine
    song = os.urandom(8 * PIECE + 1234)
    content = publish(creator, {"song.flac": song}, title="Song", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    engine = site_engine()
    seeding(engine, 1)
    endpoint = engine_endpoint(engine)

    # when: B, with the info dict and the engine's address but no passkey, connects
    stranger = BoundClient(STRANGER_B, info_dict_only(content), tmp_path / "b")
    stranger.connect(endpoint)
    # and A downloads with the fan's own torrent, which announces to our tracker
    fan_metainfo = without_web_seeds(torrents.personal_metainfo(content, fan))
    entitled = BoundClient(FAN_A, fan_metainfo, tmp_path / "a")
    entitled.wait_until_complete()

    # then: A has the song, byte for byte
    assert (entitled.folder / "song.flac").read_bytes() == song
    assert entitled.tracker_replies >= 1
    # and B got through to the engine, was dropped, and has not one byte
    wait_for(lambda: stranger.closes_from(endpoint) >= 1, what="the engine to drop B")
    assert stranger.status().total_payload_download == 0
    # once more, now that A is a seed too and the engine has the song in its cache
    seen = stranger.closes_from(endpoint)
    stranger.connect(endpoint)
    wait_for(lambda: stranger.closes_from(endpoint) > seen, what="the engine to drop B again")
    status = stranger.status()
    assert (status.total_payload_download, status.num_pieces) == (0, 0)


def test_a_fan_whose_access_is_taken_back_is_disconnected_mid_download(
    creator: Creator,
    fan: User,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: the fan's client downloading a paid film from the engine, slowly
    film = os.urandom(16 * PIECE)
    content = publish(creator, {"film.mkv": film}, title="Film", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    engine = site_engine()
    seeding(engine, 1)
    endpoint = engine_endpoint(engine)
    fan_metainfo = without_web_seeds(torrents.personal_metainfo(content, fan))
    client = BoundClient(FAN_A, fan_metainfo, tmp_path / "a")
    client.handle.set_download_limit(64 * KIB)
    wait_for(lambda: client.status().num_pieces >= 1, timeout=120, what="the first piece")
    wait_for(lambda: engine_peers(engine) == 1, what="the engine to count the fan")

    # when: the fan's admissions are taken back (a revoked grant or rotated passkey does this)
    assert admission.forget(fan.pk) == 1

    # then: the engine's peer list empties and the fan's client has lost the engine
    wait_for(lambda: engine_peers(engine) == 0, what="the engine to drop the fan")
    wait_for(lambda: client.status().num_peers == 0, what="the client to lose the engine")
    have = client.status()
    assert 0 < have.num_pieces < client.num_pieces
    # and no more piece arrives, even unthrottled, while the fan's address knocks again
    client.handle.set_download_limit(0)
    knocking = BoundClient(FAN_A, info_dict_only(content), tmp_path / "again")
    knocking.connect(endpoint)
    wait_for(lambda: knocking.closes_from(endpoint) >= 1, what="the engine to refuse the fan")
    assert knocking.status().total_payload_download == 0
    after = client.status()
    assert after.num_pieces == have.num_pieces
    assert after.total_payload_download == have.total_payload_download
    assert not after.is_seeding


def test_a_free_torrent_is_served_to_a_peer_that_never_announced(
    creator: Creator,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a free clip and a paid one, both seeded (the filter is on for the paid one)
    clip = os.urandom(4 * PIECE + 99)
    free = publish(creator, {"clip.mp4": clip}, title="Clip", access=Content.Access.FREE)
    publish(creator, {"paid.mp4": os.urandom(PIECE)}, title="Paid", access=Content.Access.PAID)
    engine = site_engine()
    seeding(engine, 2)

    # when: a peer with the clip's info dict connects straight to the engine, no tracker
    peer = BoundClient(STRANGER_B, info_dict_only(free), tmp_path / "b")
    peer.connect(engine_endpoint(engine))
    peer.wait_until_complete()

    # then
    assert (peer.folder / "clip.mp4").read_bytes() == clip
