"""The announce answered in one Redis round trip (``swarm.tracker.hotpath``): taken only when the
entries kept in Redis grant it exactly as ``auth.authorise_found`` would, and never once a change
that ends access (a revoked grant, a rotated passkey, a takedown, a grant's end, a deactivated
account) has been told, however recently the pair was answered from Redis."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from datetime import timedelta
from typing import Any, cast
from urllib.parse import quote_from_bytes

import libtorrent as lt
import pytest
import redis
from django.conf import settings

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import admission
from swarm.models import Content, EngineNode
from swarm.services import active_passkey, engine_passkey, rotate_passkey, take_down_content
from swarm.tracker import asgi, auth, entitlements, hotpath, protocol
from swarm.tracker.peers import PENDING_KEY, redis_client
from tests.fixtures.clock import Clock
from tests.fixtures.content import paid_torrent

# Committed rows: the tracker reads the database on a connection of its own (another thread).
pytestmark = pytest.mark.django_db(transaction=True)

NOT_ENTITLED = {b"failure reason": b"not entitled to this torrent"}


@pytest.fixture
def long_ways(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The announces that did not go the one-round-trip way, by passkey."""
    taken: list[str] = []
    real = asgi._announce_decided

    async def counted(client: Any, found: Any, query: Any, passkey: str, address: Any) -> Any:
        taken.append(passkey)
        return await real(client, found, query, passkey, address)

    monkeypatch.setattr(asgi, "_announce_decided", counted)
    return taken


def announce(
    key: str,
    content: Content,
    *,
    peer_id: bytes = b"-LT2110-hotpath00001",
    uploaded: int = 0,
    event: str = "",
    address: str = "10.1.2.3",
) -> dict[bytes, Any]:
    assert content.infohash is not None
    query = (
        f"info_hash={quote_from_bytes(bytes.fromhex(content.infohash), safe='')}"
        f"&peer_id={quote_from_bytes(peer_id, safe='')}&port=6881&uploaded={uploaded}"
        f"&downloaded=0&left=1000&compact=1&numwant=50"
    ) + (f"&event={event}" if event else "")
    reply = lt.bdecode(asyncio.run(asgi.announce(key, query.encode(), address)))
    assert isinstance(reply, dict)
    return cast(dict[bytes, Any], reply)


def admitted(content: Content) -> frozenset[str]:
    assert content.infohash is not None
    return admission.admitted([content.infohash])[content.infohash]


def test_a_kept_pair_is_announced_in_one_round_trip_with_its_admission_and_transfers(
    fan: User, creator: Creator, long_ways: list[str]
) -> None:
    # given: the fan holds a grant for a paid content and announced it once (decided from the
    # database, kept)
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)
    key = active_passkey(fan).key
    assert b"peers" in announce(key, content)
    assert long_ways == [key]

    # when: the fan announces again, from another address, with bytes sent
    reply = announce(key, content, uploaded=5000, address="10.9.9.9")

    # then: answered the short way, the peer recorded, the address admitted for the engine,
    # the transfer pending for the user
    assert long_ways == [key]
    assert reply[b"incomplete"] == 1
    assert admitted(content) == frozenset({"10.1.2.3", "10.9.9.9"})
    pending = redis.Redis.from_url(settings.REDIS_URL).hgetall(PENDING_KEY)
    assert pending[f"{key}:{content.infohash}:u".encode()] == b"5000"


def test_revoking_a_grant_makes_the_very_next_announce_refused(
    fan: User, creator: Creator, long_ways: list[str]
) -> None:
    # given: the fan's pair answered the short way
    content = paid_torrent(creator)
    grant = ledger.grant(fan, content, Grant.Source.STAFF)
    key = active_passkey(fan).key
    announce(key, content)
    assert b"peers" in announce(key, content)
    assert long_ways == [key]

    # when: the grant is revoked
    ledger.revoke_grant(grant.pk, "refunded")

    # then: the very next announce is refused, and the address is not admitted again
    assert announce(key, content) == NOT_ENTITLED
    assert admitted(content) == frozenset()


def test_a_grant_whose_until_passes_is_refused_on_time(
    fan: User, creator: Creator, clock: Clock, long_ways: list[str]
) -> None:
    # given: a grant for 2 hours, its pair answered the short way
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF, until=clock.now() + timedelta(hours=2))
    key = active_passkey(fan).key
    announce(key, content)
    assert b"peers" in announce(key, content)

    # when: the platform clock passes its end (the kept entry expires hours later)
    clock.advance(timedelta(hours=2, seconds=1))

    # then: refused at once
    assert announce(key, content) == NOT_ENTITLED


def test_a_rotated_passkey_is_refused_at_once_and_its_successor_allowed(
    fan: User, creator: Creator
) -> None:
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)
    old = active_passkey(fan).key
    announce(old, content)
    assert b"peers" in announce(old, content)

    new = rotate_passkey(fan).key

    assert announce(old, content) == {
        b"failure reason": b"passkey revoked: download the torrent again"
    }
    assert b"peers" in announce(new, content)


def test_a_takedown_is_refused_at_once(fan: User, creator: Creator, moderator: User) -> None:
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)
    key = active_passkey(fan).key
    announce(key, content)
    assert b"peers" in announce(key, content)

    take_down_content(moderator, content.pk, "copyright claim")

    assert announce(key, content) == {b"failure reason": b"unregistered torrent: copyright claim"}


def test_a_deactivated_account_is_refused_at_once(fan: User, creator: Creator) -> None:
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)
    key = active_passkey(fan).key
    announce(key, content)
    assert b"peers" in announce(key, content)

    fan.is_active = False
    fan.save(update_fields=["is_active"])

    assert announce(key, content) == NOT_ENTITLED


def test_an_engine_is_announced_the_short_way_and_keeps_one_place(
    creator: Creator, long_ways: list[str]
) -> None:
    # given: an engine's passkey announced a content once
    content = paid_torrent(creator)
    key = engine_passkey(EngineNode.objects.create(name="node-1")).key
    announce(key, content, peer_id=b"-LT2110-engine000001")

    # when: the engine restarts (a new peer id) and announces again
    reply = announce(key, content, peer_id=b"-LT2110-engine000002", uploaded=10**6)

    # then: the short way; its old place was replaced, not added to; nobody's transfers
    assert long_ways == [key]
    assert reply[b"complete"] + reply[b"incomplete"] == 1
    assert redis.Redis.from_url(settings.REDIS_URL).hgetall(PENDING_KEY) == {}
    assert admitted(content) == frozenset()


# --- the script's grant is authorise_found's ------------------------------------------------------

USER, CONTENT, CREATOR = 41, 42, 43
PASSKEY_ENTRIES = [None, "e", f"u:{USER}:1", f"u:{USER}:0", f"u:{USER}", "x:1:1"]
CONTENT_ENTRIES = [
    None,
    f"{CONTENT}:seeding:1:{CREATOR}:",
    f"{CONTENT}:unhealthy:0:{CREATOR}:",
    f"{CONTENT}:removed:1:{CREATOR}:copyright claim",
    f"{CONTENT}:hashing:1:{CREATOR}:",
    "garbage",
]
# A shape the tracker never writes, which Python reads as the canonical one: the script is
# stricter (it leaves the decision to Python), never looser.
NON_CANONICAL = f"{CONTENT}:seeding:1:0{CREATOR}:"
DECISION_ENTRIES = [
    None,
    "1::1{private}{creator}/1",
    "1::1{private}{creator}/0",
    "0::1{private}{creator}/1",
    "1:{future}:1{private}{creator}/1",
    "1:{past}:1{private}{creator}/1",
    "1:{future}:0{private}{creator}/1",
    "1:soon:1{private}{creator}/1",
    "1::1{private}9{creator}/1",
]


def entry_cases() -> list[tuple[str | None, str | None, str | None]]:
    contents = [*CONTENT_ENTRIES, NON_CANONICAL]
    return list(itertools.product(PASSKEY_ENTRIES, contents, DECISION_ENTRIES))


def test_the_script_grants_exactly_when_authorise_found_grants_from_the_same_entries(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    # Every combination of kept entries, well-formed or not: where the script grants, the
    # Python decision grants the same, and where the Python decision grants without asking the
    # database, the script grants too (else the short way would be dead).
    async def database(*args: Any) -> str:
        return "database"

    monkeypatch.setattr(auth, "_authorise_from_database", database)
    now = clock.now().timestamp()
    infohash = secrets.token_bytes(20)
    key = secrets.token_hex(16)
    query = protocol.parse_announce(
        f"info_hash={quote_from_bytes(infohash, safe='')}&peer_id=-LT2110-equivalence1"
        "&port=6881&uploaded=0&downloaded=0&left=0".encode()
    )
    address = protocol.client_address("10.0.0.7")
    passkey_key, content_key, prefix = entitlements.lookup_keys(key, infohash.hex())
    decision_key = f"{prefix}{USER}:{CONTENT}"
    sync = redis.Redis.from_url(settings.REDIS_URL)

    async def both() -> tuple[Any, Any]:
        client = await redis_client()
        found = await entitlements.lookup(client, key, infohash.hex())
        python = await auth.authorise_found(client, found, key, infohash.hex())
        script = await hotpath.announce(client, query, key, address)
        return python, script

    granted = 0
    for passkey_entry, content_entry, decision_entry in entry_cases():
        sync.delete(passkey_key, content_key, decision_key)
        private = "1" if content_entry and ":1:" in content_entry else "0"
        for redis_key, value in (
            (passkey_key, passkey_entry),
            (content_key, content_entry),
            (decision_key, decision_entry),
        ):
            if value is not None:
                sync.set(
                    redis_key,
                    value.format(
                        private=private,
                        creator=CREATOR,
                        future=repr(now + 3600),
                        past=repr(now - 1),
                    ),
                )
        python, script = asyncio.run(both())
        case = (passkey_entry, content_entry, decision_entry)
        if isinstance(script, hotpath.Answered):
            assert isinstance(python, auth.Grant), case
            assert script.user_id == python.user_id, case
            granted += 1
        else:
            assert isinstance(script, entitlements.Found), case
            assert not isinstance(python, auth.Grant) or content_entry == NON_CANONICAL, case
    # an engine: 3 published contents (with the non-canonical one) whatever the decision; a
    # user: 2 canonical published contents x the 3 standing decisions taken with its facts
    assert granted == 3 * len(DECISION_ENTRIES) + 2 * 3
