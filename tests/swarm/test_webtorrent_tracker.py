"""The WebSocket tracker (WebTorrent): announce, offers relayed, answers routed, scrape, and
only entitled peers in a paid swarm, over the live ASGI server and the real Redis."""

from __future__ import annotations

import asyncio
import json

import pytest
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import revocations
from swarm.models import Content
from swarm.services import active_passkey
from tests.fixtures.http_tracker import make_content
from tests.fixtures.processes import wait_for
from tests.fixtures.servers import AsgiServer, serving
from tests.swarm.webtorrent import (
    an_offer,
    announce,
    binary,
    info_hash_of,
    new_peer_id,
    next_frame,
    open_socket,
    scrape,
    swarm_expiry,
    swarm_peer_ids,
)

pytestmark = pytest.mark.django_db(transaction=True)


def key(user: User) -> str:
    return active_passkey(user).key


def test_an_announce_is_answered_with_the_swarm_and_the_interval(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    fan_key = key(fan)
    content = make_content(creator)
    info_hash, peer_id = info_hash_of(content), new_peer_id()

    async def scenario() -> tuple[dict[str, object], int]:
        async with await open_socket(asgi_server, fan_key) as socket:
            reply = await announce(socket, info_hash, peer_id, event="started", left=0)
            return reply, swarm_expiry(info_hash)

    reply, expires_in = asyncio.run(scenario())

    assert reply == {
        "action": "announce",
        "interval": 120,
        "info_hash": binary(info_hash),
        "complete": 1,
        "incomplete": 0,
    }
    assert 0 < expires_in <= 2 * 120 + 60  # the swarm's state in Redis lapses on its own


def test_an_offer_reaches_another_peer_and_its_answer_comes_back_by_to_peer_id(
    asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    fan_key = key(fan)
    stranger_key = key(stranger)
    content = make_content(creator)
    info_hash = info_hash_of(content)
    seeder_id, leecher_id = new_peer_id(), new_peer_id()
    offer = an_offer()

    async def scenario() -> tuple[dict[str, object], ...]:
        async with (
            await open_socket(asgi_server, fan_key) as seeder,
            await open_socket(asgi_server, stranger_key) as leecher,
        ):
            await announce(seeder, info_hash, seeder_id, event="started", left=0)
            # when: the leecher announces with one offer
            reply = await announce(leecher, info_hash, leecher_id, offers=[offer])
            relayed = await next_frame(seeder)
            # and the seeder answers it
            await seeder.send(
                json.dumps(
                    {
                        "action": "announce",
                        "info_hash": binary(info_hash),
                        "peer_id": binary(seeder_id),
                        "to_peer_id": binary(leecher_id),
                        "offer_id": offer["offer_id"],
                        "answer": {"type": "answer", "sdp": "v=0\r\nanswer\r\n"},
                    }
                )
            )
            answered = await next_frame(leecher)
            # no reply to an answer: the seeder's next frame is its scrape's
            after = await scrape(seeder, info_hash)
            return reply, relayed, answered, after

    reply, relayed, answered, after = asyncio.run(scenario())

    assert (reply["complete"], reply["incomplete"]) == (1, 1)
    assert relayed == {
        "action": "announce",
        "offer": offer["offer"],
        "offer_id": offer["offer_id"],
        "peer_id": binary(leecher_id),
        "info_hash": binary(info_hash),
    }
    assert answered == {
        "action": "announce",
        "answer": {"type": "answer", "sdp": "v=0\r\nanswer\r\n"},
        "offer_id": offer["offer_id"],
        "peer_id": binary(seeder_id),
        "info_hash": binary(info_hash),
    }
    assert after["action"] == "scrape"


def test_each_offer_goes_to_a_different_peer_and_never_back_to_its_sender(
    asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    fan_key = key(fan)
    stranger_key = key(stranger)
    content = make_content(creator)
    info_hash = info_hash_of(content)
    ids = [new_peer_id() for _ in range(3)]
    offers = [an_offer(n) for n in range(5)]

    async def scenario() -> list[dict[str, object]]:
        async with (
            await open_socket(asgi_server, fan_key) as first,
            await open_socket(asgi_server, fan_key) as second,
            await open_socket(asgi_server, stranger_key) as sender,
        ):
            await announce(first, info_hash, ids[0])
            await announce(second, info_hash, ids[1])
            # five offers, two other peers: one offer each, the rest unused
            await announce(sender, info_hash, ids[2], offers=offers)
            return [await next_frame(first), await next_frame(second)]

    received = asyncio.run(scenario())

    offer_ids = {frame["offer_id"] for frame in received}
    assert len(offer_ids) == 2
    assert offer_ids <= {offer["offer_id"] for offer in offers}
    assert all(frame["peer_id"] == binary(ids[2]) for frame in received)


def test_a_scrape_counts_live_peers_and_leaves_out_torrents_the_passkey_may_not_see(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    fan_key = key(fan)
    free, paid = make_content(creator), make_content(creator, access=Content.Access.PAID)

    async def scenario() -> dict[str, object]:
        async with (
            await open_socket(asgi_server, fan_key) as socket,
            await open_socket(asgi_server, fan_key) as other,
        ):
            await announce(socket, info_hash_of(free), new_peer_id(), left=0)
            await announce(other, info_hash_of(free), new_peer_id(), event="completed", left=0)
            return await scrape(socket, info_hash_of(free), info_hash_of(paid))

    reply = asyncio.run(scenario())

    assert reply == {
        "action": "scrape",
        "files": {binary(info_hash_of(free)): {"complete": 2, "incomplete": 0, "downloaded": 1}},
        "flags": {"min_request_interval": 120},
    }


def test_stopped_takes_the_peer_out_of_the_swarm(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    fan_key = key(fan)
    content = make_content(creator)
    info_hash, peer_id = info_hash_of(content), new_peer_id()

    async def scenario() -> dict[str, object]:
        async with await open_socket(asgi_server, fan_key) as socket:
            await announce(socket, info_hash, peer_id)
            assert swarm_peer_ids(info_hash) == {peer_id}
            return await announce(socket, info_hash, peer_id, event="stopped")

    reply = asyncio.run(scenario())

    assert (reply["complete"], reply["incomplete"]) == (0, 0)
    assert swarm_peer_ids(info_hash) == set()


def test_an_unentitled_passkey_on_a_paid_torrent_is_refused_and_is_relayed_no_offers(
    asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    fan_key = key(fan)
    stranger_key = key(stranger)
    # given: a paid torrent, two sockets of the entitled fan in its swarm
    content = make_content(creator, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)
    info_hash = info_hash_of(content)
    fan_ids, intruder_id = [new_peer_id(), new_peer_id()], new_peer_id()

    async def scenario() -> tuple[
        dict[str, object], dict[str, object], dict[str, object], set[bytes]
    ]:
        async with (
            await open_socket(asgi_server, fan_key) as fan_first,
            await open_socket(asgi_server, fan_key) as fan_second,
            await open_socket(asgi_server, stranger_key) as intruder,
        ):
            await announce(fan_first, info_hash, fan_ids[0])
            # when: the stranger announces with offers for the fans
            refused = await announce(intruder, info_hash, intruder_id, offers=[an_offer()] * 3)
            # and a fan's offers go out to the swarm
            await announce(
                fan_second, info_hash, fan_ids[1], offers=[an_offer(n) for n in range(5)]
            )
            relayed = await next_frame(fan_first)
            # then: the stranger's next frame is the answer to its own scrape, no offer
            after = await scrape(intruder, info_hash)
            return refused, relayed, after, swarm_peer_ids(info_hash)

    refused, relayed, after, swarm = asyncio.run(scenario())

    assert refused == {
        "failure reason": "not entitled to this torrent",
        "action": "announce",
        "info_hash": binary(info_hash),
    }
    assert relayed["peer_id"] == binary(fan_ids[1])
    assert after["files"] == {}
    assert swarm == set(fan_ids)


def test_a_revoked_grant_takes_the_peer_out_of_the_swarm_within_seconds(
    asgi_server: AsgiServer,
    fan: User,
    stranger: User,
    creator: Creator,
    settings: Settings,
) -> None:
    fan_key = key(fan)
    stranger_key = key(stranger)
    settings.TRACKER_WS_RECHECK_SECONDS = 0.2
    content = make_content(creator, access=Content.Access.PAID)
    grant = ledger.grant(fan, content, Grant.Source.STAFF)
    ledger.grant(stranger, content, Grant.Source.STAFF)
    info_hash = info_hash_of(content)
    fan_id, other_id = new_peer_id(), new_peer_id()

    async def scenario() -> tuple[dict[str, object], dict[str, object], set[bytes]]:
        async with (
            await open_socket(asgi_server, fan_key) as revoked,
            await open_socket(asgi_server, stranger_key) as other,
        ):
            await announce(revoked, info_hash, fan_id)
            # when: the fan's grant is revoked (a refund)
            await asyncio.to_thread(ledger.revoke_grant, grant.pk, "refunded")
            # then: the tracker tells the socket on its own, without an announce
            told = await next_frame(revoked)
            # and the other peer's offers find nobody
            reply = await announce(other, info_hash, other_id, offers=[an_offer()])
            after = await scrape(revoked, info_hash)
            return told, {**reply, "after": after}, swarm_peer_ids(info_hash)

    told, reply, swarm = asyncio.run(scenario())

    assert told == {
        "failure reason": "not entitled to this torrent",
        "action": "announce",
        "info_hash": binary(info_hash),
    }
    assert (reply["complete"], reply["incomplete"]) == (0, 1)
    assert reply["after"] == {
        "action": "scrape",
        "files": {},
        "flags": {"min_request_interval": 120},
    }
    assert swarm == {other_id}
    # and the fan's peer is marked refused, for the engines to drop their data channels to it
    assert revocations.refused_peers() == {info_hash.hex(): frozenset({fan_id.hex()})}


def test_a_revoked_grant_is_acted_on_at_once_not_at_the_next_recheck(
    asgi_server: AsgiServer, fan: User, creator: Creator, settings: Settings
) -> None:
    # given: rechecks far apart, longer than the wait for a frame
    settings.TRACKER_WS_RECHECK_SECONDS = 3600
    content = make_content(creator, access=Content.Access.PAID)
    grant = ledger.grant(fan, content, Grant.Source.STAFF)
    info_hash, fan_id, fan_key = info_hash_of(content), new_peer_id(), key(fan)

    async def scenario() -> tuple[dict[str, object], set[bytes]]:
        async with await open_socket(asgi_server, fan_key) as revoked:
            await announce(revoked, info_hash, fan_id)
            # when: the fan's grant is revoked (a refund)
            await asyncio.to_thread(ledger.revoke_grant, grant.pk, "refunded")
            # then: the socket is told without waiting for its recheck
            return await next_frame(revoked), swarm_peer_ids(info_hash)

    told, swarm = asyncio.run(scenario())

    assert told == {
        "failure reason": "not entitled to this torrent",
        "action": "announce",
        "info_hash": binary(info_hash),
    }
    assert swarm == set()
    assert revocations.refused_peers() == {info_hash.hex(): frozenset({fan_id.hex()})}


def test_a_refused_peer_admitted_again_is_no_longer_marked(
    asgi_server: AsgiServer, fan: User, creator: Creator, settings: Settings
) -> None:
    settings.TRACKER_WS_RECHECK_SECONDS = 0.2
    content = make_content(creator, access=Content.Access.PAID)
    grant = ledger.grant(fan, content, Grant.Source.STAFF)
    info_hash, fan_id, fan_key = info_hash_of(content), new_peer_id(), key(fan)

    async def scenario() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        async with await open_socket(asgi_server, fan_key) as socket:
            await announce(socket, info_hash, fan_id)
            await asyncio.to_thread(ledger.revoke_grant, grant.pk, "refunded")
            await next_frame(socket)  # refused
            marked = revocations.refused_peers()
            # when: the fan buys it again and the same client announces
            await asyncio.to_thread(ledger.grant, fan, content, Grant.Source.PURCHASE)
            await announce(socket, info_hash, fan_id)
            return marked, revocations.refused_peers()

    marked, after = asyncio.run(scenario())

    assert marked == {info_hash.hex(): frozenset({fan_id.hex()})}
    assert after == {}


def test_a_peer_id_held_by_another_account_is_refused(
    asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    fan_key = key(fan)
    stranger_key = key(stranger)
    content = make_content(creator)
    info_hash, victim_id = info_hash_of(content), new_peer_id()

    async def scenario() -> dict[str, object]:
        async with (
            await open_socket(asgi_server, fan_key) as victim,
            await open_socket(asgi_server, stranger_key) as thief,
        ):
            await announce(victim, info_hash, victim_id)
            # the thief's hope: answers meant for the victim's peer id come to it
            return await announce(thief, info_hash, victim_id)

    reply = asyncio.run(scenario())

    assert reply["failure reason"] == "peer_id in use by another account"
    # The victim's socket closed, so it left: the server takes it out as it sees the close.
    wait_for(lambda: swarm_peer_ids(info_hash) == set(), timeout=30, what="the victim to leave")


def test_an_offer_and_its_answer_cross_between_web_processes(
    asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    fan_key, stranger_key = key(fan), key(stranger)
    info_hash = info_hash_of(make_content(creator))
    here_id, there_id = new_peer_id(), new_peer_id()
    offer = an_offer()

    async def scenario(other: AsgiServer) -> tuple[dict[str, object], dict[str, object]]:
        async with (
            await open_socket(asgi_server, fan_key) as here,
            await open_socket(other, stranger_key) as there,
        ):
            await announce(here, info_hash, here_id)
            # a peer on another web process (its own event loop, hub and Redis connections)
            await announce(there, info_hash, there_id, offers=[offer])
            relayed = await next_frame(here)
            await here.send(
                json.dumps(
                    {
                        "action": "announce",
                        "info_hash": binary(info_hash),
                        "peer_id": binary(here_id),
                        "to_peer_id": binary(there_id),
                        "offer_id": offer["offer_id"],
                        "answer": {"type": "answer", "sdp": "v=0\r\n"},
                    }
                )
            )
            return relayed, await next_frame(there)

    with serving() as other:
        relayed, answered = asyncio.run(scenario(other))

    assert (relayed["offer_id"], relayed["peer_id"]) == (offer["offer_id"], binary(there_id))
    assert (answered["offer_id"], answered["peer_id"]) == (offer["offer_id"], binary(here_id))
