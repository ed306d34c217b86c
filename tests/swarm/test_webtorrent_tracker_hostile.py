"""The WebSocket tracker against hostile input, in the attacker's words: garbage frames,
oversized frames, answers to peers that are not there, more offers than allowed, a passkey's
flood. Each gets a ``failure reason``; garbage and floods a close as well; never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any

import pytest
import websockets
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.models import Creator
from swarm.services import active_passkey
from tests.fixtures.http_tracker import make_content
from tests.fixtures.servers import AsgiServer
from tests.swarm.webtorrent import (
    an_offer,
    announce,
    binary,
    closed_with,
    info_hash_of,
    new_peer_id,
    next_frame,
    open_socket,
    scrape,
    swarm_peer_ids,
)

pytestmark = pytest.mark.django_db(transaction=True)

_HASH = binary(secrets.token_bytes(20))
_PEER = binary(new_peer_id())

# (what is sent, the failure reason): each on a fresh socket, which must then be closed.
GARBAGE: list[tuple[str | bytes, str]] = [
    ("not json", "invalid JSON"),
    ("[1, 2]", "invalid message"),
    (json.dumps({"action": "connect"}), "invalid action"),
    (
        json.dumps({"action": "announce", "info_hash": _HASH[:19], "peer_id": _PEER}),
        "invalid info_hash",
    ),
    (
        json.dumps({"action": "announce", "info_hash": _HASH + "x", "peer_id": _PEER}),
        "invalid info_hash",
    ),
    # 20 characters, but one is no byte: UTF-8 text, not a binary string
    (
        json.dumps({"action": "announce", "info_hash": "\u0100" * 20, "peer_id": _PEER}),
        "invalid info_hash",
    ),
    (json.dumps({"action": "announce", "info_hash": _HASH, "peer_id": 7}), "invalid peer_id"),
    (json.dumps({"action": "scrape", "info_hash": [secrets.token_hex(20)]}), "invalid info_hash"),
    (json.dumps({"action": "scrape"}), "invalid info_hash"),
    (
        json.dumps({"action": "announce", "info_hash": _HASH, "peer_id": _PEER, "offers": "x"}),
        "invalid offers",
    ),
    (
        json.dumps(
            {
                "action": "announce",
                "info_hash": _HASH,
                "peer_id": _PEER,
                "offers": [{"offer": {"type": "answer", "sdp": ""}, "offer_id": _PEER}],
            }
        ),
        "invalid offer",
    ),
    (b"\x00\x01binary", "binary frames are not the protocol"),
]


def test_garbage_frames_get_a_failure_reason_and_a_close(
    asgi_server: AsgiServer, fan: User
) -> None:
    passkey = active_passkey(fan).key

    async def one(frame: str | bytes) -> tuple[dict[str, Any], int | None]:
        async with await open_socket(asgi_server, passkey) as socket:
            await socket.send(frame)
            return await next_frame(socket), await closed_with(socket)

    async def scenario() -> list[tuple[dict[str, Any], int | None]]:
        return [await one(frame) for frame, _ in GARBAGE]

    answers = asyncio.run(scenario())

    assert answers == [({"failure reason": reason}, 1008) for _, reason in GARBAGE]


def test_an_oversized_frame_is_refused_and_closed_before_it_is_read(
    asgi_server: AsgiServer, fan: User, creator: Creator, settings: Settings
) -> None:
    passkey = active_passkey(fan).key
    info_hash = info_hash_of(make_content(creator))
    # a valid announce, padded past the cap inside its offer
    offer = {"offer": {"type": "offer", "sdp": "x" * settings.TRACKER_WS_MAX_MESSAGE_BYTES}}
    frame = json.dumps(
        {
            "action": "announce",
            "info_hash": binary(info_hash),
            "peer_id": binary(new_peer_id()),
            "offers": [{**offer, "offer_id": _PEER}],
        }
    )

    async def scenario() -> tuple[dict[str, Any], int | None]:
        async with await open_socket(asgi_server, passkey) as socket:
            await socket.send(frame)
            return await next_frame(socket), await closed_with(socket)

    assert asyncio.run(scenario()) == ({"failure reason": "message too big"}, 1009)
    assert swarm_peer_ids(info_hash) == set()


@pytest.mark.parametrize("passkey", ["not-a-passkey", "p" * 65, "a%20b"])
def test_an_invalid_passkey_is_refused_and_closed(
    asgi_server: AsgiServer, creator: Creator, passkey: str
) -> None:
    info_hash = info_hash_of(make_content(creator))

    async def scenario() -> tuple[dict[str, Any], int | None]:
        async with await open_socket(asgi_server, passkey) as socket:
            # one too long to be a passkey is refused before any frame: the send may find the
            # socket closed, its failure frame still waits to be read
            with contextlib.suppress(websockets.ConnectionClosed):
                await socket.send(json.dumps({"action": "scrape", "info_hash": binary(info_hash)}))
            return await next_frame(socket), await closed_with(socket)

    assert asyncio.run(scenario()) == ({"failure reason": "invalid passkey"}, 4403)
    assert swarm_peer_ids(info_hash) == set()


def test_answers_to_unknown_peers_are_refused_and_the_socket_stays(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    passkey = active_passkey(fan).key
    info_hash, peer_id = info_hash_of(make_content(creator)), new_peer_id()

    def answer(to_peer_id: bytes) -> str:
        return json.dumps(
            {
                "action": "announce",
                "info_hash": binary(info_hash),
                "peer_id": binary(peer_id),
                "to_peer_id": binary(to_peer_id),
                "offer_id": binary(secrets.token_bytes(20)),
                "answer": {"type": "answer", "sdp": "v=0\r\n"},
            }
        )

    async def scenario() -> list[dict[str, Any]]:
        async with await open_socket(asgi_server, passkey) as socket:
            # an answer from a peer that never announced
            await socket.send(answer(new_peer_id()))
            before = await next_frame(socket)
            await announce(socket, info_hash, peer_id)
            # an answer to a peer id nobody holds
            await socket.send(answer(new_peer_id()))
            unknown = await next_frame(socket)
            return [before, unknown, await scrape(socket, info_hash)]

    before, unknown, after = asyncio.run(scenario())

    assert before == {
        "failure reason": "announce to the swarm before answering",
        "action": "announce",
        "info_hash": binary(info_hash),
    }
    assert unknown == {
        "failure reason": "no peer with that to_peer_id",
        "action": "announce",
        "info_hash": binary(info_hash),
    }
    assert after["files"] == {binary(info_hash): {"complete": 0, "incomplete": 1, "downloaded": 0}}


def test_offers_beyond_the_cap_are_not_relayed(
    asgi_server: AsgiServer, fan: User, creator: Creator, settings: Settings
) -> None:
    settings.TRACKER_WS_MAX_OFFERS = 2
    passkey = active_passkey(fan).key
    info_hash = info_hash_of(make_content(creator))
    ids = [new_peer_id() for _ in range(4)]

    async def scenario() -> list[str]:
        sockets = [await open_socket(asgi_server, passkey) for _ in ids]
        try:
            for socket, peer_id in zip(sockets[:3], ids[:3], strict=True):
                await announce(socket, info_hash, peer_id)
            # ten offers for three peers: two are relayed (before the sender's reply)
            await announce(sockets[3], info_hash, ids[3], offers=[an_offer(n) for n in range(10)])
            # each peer's next frame: an offer, or the answer to its own scrape
            kinds = []
            for socket in sockets[:3]:
                await socket.send(json.dumps({"action": "scrape", "info_hash": binary(info_hash)}))
                frame = await next_frame(socket)
                kinds.append("offer" if "offer" in frame else frame["action"])
                if "offer" in frame:
                    await next_frame(socket)  # its scrape's answer
            return sorted(kinds)
        finally:
            for socket in sockets:
                await socket.close()

    kinds = asyncio.run(scenario())

    assert kinds == ["offer", "offer", "scrape"]


def test_a_passkey_flood_is_cut_off_across_its_sockets_and_no_one_elses(
    asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator, settings: Settings
) -> None:
    settings.TRACKER_WS_RATE_LIMIT = 5
    settings.TRACKER_WS_RATE_WINDOW_SECONDS = 3600
    flooder, bystander = active_passkey(fan).key, active_passkey(stranger).key
    info_hash = info_hash_of(make_content(creator))

    async def scenario() -> tuple[list[dict[str, Any]], int | None, dict[str, Any], dict[str, Any]]:
        async with await open_socket(asgi_server, flooder) as first:
            answers = [await scrape(first, info_hash) for _ in range(6)]
            first_closed = await closed_with(first)
        # a fresh socket buys the same passkey nothing
        async with await open_socket(asgi_server, flooder) as second:
            again = await scrape(second, info_hash)
        async with await open_socket(asgi_server, bystander) as other:
            theirs = await scrape(other, info_hash)
        return answers, first_closed, again, theirs

    answers, first_closed, again, theirs = asyncio.run(scenario())

    refused = {"failure reason": "too many requests for this passkey"}
    assert [a.get("action") for a in answers[:5]] == ["scrape"] * 5
    assert answers[5] == refused
    assert first_closed == 1008
    assert again == refused
    assert theirs["action"] == "scrape"
