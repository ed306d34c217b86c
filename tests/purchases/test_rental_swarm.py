"""A rental's window closes mid-download: the real engine (``manage.py runswarm``), the live
site's tracker and web seed, and a fan's libtorrent session bound to its own loopback address.
The platform clock moves for all of them at once (the ``clock`` fixture); nothing sleeps."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from accounts.models import User
from creators.models import Creator
from ledger import access
from payments import crediting
from purchases import rentals
from purchases.models import Rental
from swarm import torrents
from swarm.models import Content
from swarm.services import active_passkey
from swarm.tracker import auth
from swarm.webseed import tokens
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
from tests.fixtures.clock import Clock
from tests.fixtures.processes import Child, wait_for
from tests.fixtures.rentals import RENT
from tests.payments.factories import paying, proven, with_wallet
from tests.swarm.clients import without_web_seeds


def test_a_rental_whose_window_ends_mid_download_is_refused_at_every_door(
    creator: Creator,
    fan: User,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    clock: Clock,
    tmp_path: Path,
) -> None:
    # given: a paid film offered for rent, rented and paid by the fan
    with_wallet(creator)
    film = os.urandom(16 * PIECE)
    content = publish(creator, {"film.mkv": film}, title="Film", access=Content.Access.PAID)
    rentals.set_rental_terms(creator.user, content, RENT, window_hours=48, start_within_days=30)
    invoice, _ = rentals.create_rental_invoice(fan, content)
    crediting.record_transfer(proven(*paying(invoice)), solidified=True)
    engine = site_engine()
    seeding(engine, 1)
    endpoint = engine_endpoint(engine)

    # when: the fan's client downloads it from the engine, slowly; its announce is the first use
    client = BoundClient(
        FAN_A, without_web_seeds(torrents.personal_metainfo(content, fan)), tmp_path / "a"
    )
    client.handle.set_download_limit(64 * KIB)
    wait_for(lambda: client.status().num_pieces >= 1, timeout=120, what="the first piece")
    wait_for(lambda: engine_peers(engine) == 1, what="the engine to count the fan")
    started = Rental.objects.get(invoice=invoice).started_at
    assert started is not None
    assert access.decide(fan, content).until == started + timedelta(hours=48)

    # and the window ends
    clock.advance(timedelta(hours=48, minutes=1))

    # then: the engine drops the fan and the client has lost it
    wait_for(lambda: engine_peers(engine) == 0, what="the engine to drop the fan")
    wait_for(lambda: client.status().num_peers == 0, what="the client to lose the engine")
    have = client.status()
    assert 0 < have.num_pieces < client.num_pieces
    # and no further piece arrives, even unthrottled, while the fan's address knocks again
    client.handle.set_download_limit(0)
    knocking = BoundClient(FAN_A, info_dict_only(content), tmp_path / "again")
    knocking.connect(endpoint)
    wait_for(lambda: knocking.closes_from(endpoint) >= 1, what="the engine to refuse the fan")
    assert knocking.status().total_payload_download == 0
    after = client.status()
    assert after.num_pieces == have.num_pieces
    assert after.total_payload_download == have.total_payload_download
    # and the tracker refuses the passkey for this torrent, the web seed answers 403
    key = active_passkey(fan).key
    auth.forget_passkey(key)
    assert content.infohash is not None
    refusal = asyncio.run(auth.authorise(key, content.infohash))
    assert isinstance(refusal, auth.Refusal)
    assert refusal.reason == "not entitled to this torrent"
    token = tokens.issue_token(fan, content)
    assert tokens.authorise(str(content.pk), token, "film.mkv") == 403
    assert not access.may_fetch(fan, content)
