"""The HTTP tracker: announce and scrape with passkeys, peers in the real Redis."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from urllib.parse import quote_from_bytes

import httpx
import libtorrent as lt
import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connections
from django.test import AsyncClient, Client
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import admission
from swarm.models import Content, EngineNode, TransferTotal
from swarm.services import active_passkey, engine_passkey, rotate_passkey
from swarm.tracker import auth, protocol, transfers
from tests.fixtures.http_tracker import (
    announce,
    announce_query,
    bdecode,
    compact_peers,
    encode,
    failure,
    info_hash_of,
    make_content,
    new_peer_id,
    scrape,
    swarm_counts,
)
from tests.fixtures.processes import wait_for
from tests.fixtures.servers import AsgiServer
from tests.swarm.clients import client_settings


@pytest.fixture
def fan_passkey(fan: User) -> str:
    return active_passkey(fan).key


@pytest.fixture
def free_content(creator: Creator) -> Content:
    return make_content(creator)


@pytest.fixture
def paid_content(creator: Creator) -> Content:
    return make_content(creator, access=Content.Access.PAID)


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/announce", "/announce/", "/scrape", "/scrape/"])
def test_no_passkey_gets_a_bencoded_failure(path: str, free_content: Content) -> None:
    query = announce_query(info_hash_of(free_content), new_peer_id())

    reply = bdecode(Client().get(f"{path}?{query}"))

    assert failure(reply).startswith("passkey required")


@pytest.mark.parametrize("passkey", ["0" * 32, "not-a-passkey", "x" * 200, "%FF%00"])
def test_unknown_passkey_is_refused(passkey: str, free_content: Content) -> None:
    reply = announce(passkey, info_hash_of(free_content))

    assert failure(reply) == "invalid passkey"


def test_revoked_passkey_is_refused_within_seconds(fan: User, free_content: Content) -> None:
    # given: the fan's passkey works
    old = active_passkey(fan).key
    assert b"peers" in announce(old, info_hash_of(free_content))

    # when: it is rotated (revoked and replaced)
    new = rotate_passkey(fan).key

    # then: the old one is refused once the short decision cache lapses; the new one works
    wait_for(
        lambda: b"failure reason" in announce(old, info_hash_of(free_content)),
        timeout=auth.AUTH_CACHE_SECONDS + 20,
        what="revocation to take effect",
    )
    assert failure(announce(old, info_hash_of(free_content))).startswith("passkey revoked")
    assert b"peers" in announce(new, info_hash_of(free_content))


def test_paid_content_needs_an_entitlement(
    stranger: User, fan: User, creator: Creator, paid_content: Content
) -> None:
    stranger_key = active_passkey(stranger).key
    fan_key = active_passkey(fan).key
    ledger.grant(fan, paid_content, Grant.Source.STAFF)

    refused = announce(stranger_key, info_hash_of(paid_content), left=0, port=7001)
    allowed = announce(fan_key, info_hash_of(paid_content), port=7002)
    own = announce(active_passkey(creator.user).key, info_hash_of(paid_content), port=7003)

    assert failure(refused) == "not entitled to this torrent"
    assert b"peers" in allowed
    assert compact_peers(own[b"peers"]) == {("127.0.0.1", 7002)}  # the stranger left no trace
    assert (own[b"complete"], own[b"incomplete"]) == (0, 2)


def test_an_entitled_announce_admits_its_address_at_the_engine_until_stopped(
    fan: User, stranger: User, paid_content: Content, free_content: Content
) -> None:
    # given: the fan's two clients behind one address announce the paid content
    ledger.grant(fan, paid_content, Grant.Source.STAFF)
    fan_key = active_passkey(fan).key
    ih = info_hash_of(paid_content)
    first, second = new_peer_id(), new_peer_id()
    announce(fan_key, ih, first, ip="10.1.0.1", port=6001, event="started")
    announce(fan_key, ih, second, ip="10.1.0.1", port=6002, event="started")
    # and a dual-stack listener's IPv4-mapped address, a free content, a stranger, an engine
    announce(fan_key, ih, ip="::ffff:10.1.0.3", port=6003)
    announce(fan_key, info_hash_of(free_content), ip="10.9.9.9", port=6009)
    announce(active_passkey(stranger).key, ih, ip="10.6.6.6", port=6666)
    engine_key = engine_passkey(EngineNode.objects.create(name="node-1")).key
    announce(engine_key, ih, ip="10.0.0.9", port=6881, left=0)

    def admitted() -> frozenset[str]:
        return admission.admitted([ih.hex()])[ih.hex()]

    # then: only the fan's addresses are admitted, for the paid content only
    assert admitted() == {"10.1.0.1", "10.1.0.3"}
    assert admission.admitted([info_hash_of(free_content).hex()]) == {
        info_hash_of(free_content).hex(): frozenset()
    }

    # when: one client leaves, the other still holds the address; when both left, it is gone
    announce(fan_key, ih, first, ip="10.1.0.1", port=6001, event="stopped")
    assert admitted() == {"10.1.0.1", "10.1.0.3"}
    announce(fan_key, ih, second, ip="10.1.0.1", port=6002, event="stopped")
    assert admitted() == {"10.1.0.3"}

    # when: the fan's admissions are taken back, an announce within the tracker's decision
    # cache does not admit them again
    assert admission.forget(fan.pk) == 1
    announce(fan_key, ih, ip="10.1.0.4", port=6004)
    assert admitted() == frozenset()


def test_revoked_entitlement_is_refused(fan: User, paid_content: Content) -> None:
    entitlement = ledger.grant(fan, paid_content, Grant.Source.STAFF)
    ledger.revoke_grant(entitlement.pk, "revoked by the test")

    reply = announce(active_passkey(fan).key, info_hash_of(paid_content))

    assert failure(reply) == "not entitled to this torrent"


def test_unknown_infohash_is_unregistered(fan_passkey: str) -> None:
    reply = announce(fan_passkey, secrets.token_bytes(20))

    assert failure(reply) == "unregistered torrent"


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ("taken down: copyright claim", "unregistered torrent: taken down: copyright claim"),
        ("", "unregistered torrent: removed"),
    ],
)
def test_removed_content_is_unregistered(
    fan_passkey: str, creator: Creator, detail: str, reason: str
) -> None:
    content = make_content(creator, state=Content.State.REMOVED, state_detail=detail)

    reply = announce(fan_passkey, info_hash_of(content))

    assert failure(reply) == reason


def test_content_not_yet_published_is_refused(fan_passkey: str, creator: Creator) -> None:
    content = make_content(creator, state=Content.State.HASHING)

    assert failure(announce(fan_passkey, info_hash_of(content))) == "torrent not available"


VALID = {
    "peer_id": quote_from_bytes(b"-LT2110-\xff\x80\xc3abcdefghi"),
    "port": "6881",
    "uploaded": "0",
    "downloaded": "0",
    "left": "10",
}


def garbage_query(valid_info_hash: str, changes: dict[str, str | None]) -> str:
    params = {"info_hash": valid_info_hash, **VALID, **changes}
    return "&".join(f"{k}={v}" for k, v in params.items() if v is not None)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"info_hash": None}, "missing info_hash"),
        ({"info_hash": "%AA" * 19}, "invalid info_hash"),
        ({"info_hash": "%AA" * 21}, "invalid info_hash"),
        ({"info_hash": "abc"}, "invalid info_hash"),
        ({"peer_id": None}, "missing peer_id"),
        ({"peer_id": "short"}, "invalid peer_id"),
        ({"peer_id": "%00" * 21}, "invalid peer_id"),
        ({"port": None}, "missing port"),
        ({"port": "http"}, "invalid port"),
        ({"port": "0"}, "invalid port"),
        ({"port": "65536"}, "invalid port"),
        ({"port": "-1"}, "invalid port"),
        ({"port": "%FF%FE"}, "invalid port"),
        ({"port": "%D9%A1"}, "invalid port"),  # ARABIC-INDIC DIGIT ONE: int() would take it
        ({"uploaded": None}, "missing uploaded"),
        ({"uploaded": "1e6"}, "invalid uploaded"),
        ({"downloaded": "+5"}, "invalid downloaded"),
        ({"left": None}, "missing left"),
        ({"left": "99999999999999999999999"}, "invalid left"),
        ({"event": "exploded"}, "invalid event"),
        ({"numwant": "lots"}, "invalid numwant"),
        ({"compact": "yes"}, "invalid compact"),
    ],
)
def test_malformed_announce_gets_its_reason(
    fan_passkey: str, free_content: Content, changes: dict[str, str | None], reason: str
) -> None:
    query = garbage_query(encode(info_hash_of(free_content)), changes)

    reply = bdecode(Client().get(f"/announce/{fan_passkey}?{query}"))

    assert failure(reply) == reason
    assert swarm_counts(fan_passkey, free_content) == {
        b"complete": 0,
        b"incomplete": 0,
        b"downloaded": 0,
    }


@pytest.mark.parametrize(
    "query", ["", "%%%&&==&", "info_hash", "info_hash=%ZZ", "\u00e9\u00e8=\u00ff"]
)
def test_garbage_query_strings_get_a_failure(fan_passkey: str, query: str) -> None:
    reply = bdecode(Client().get(f"/announce/{fan_passkey}?{query}"))

    assert failure(reply).startswith(("missing", "invalid"))


def test_duplicate_parameters_are_refused(fan_passkey: str, free_content: Content) -> None:
    query = announce_query(info_hash_of(free_content), new_peer_id()) + "&port=7000"

    reply = bdecode(Client().get(f"/announce/{fan_passkey}?{query}"))

    assert failure(reply) == "port given more than once"


def test_binary_info_hash_with_non_utf8_bytes_is_parsed_exactly(
    fan_passkey: str, creator: Creator
) -> None:
    # A QueryDict would turn these bytes into U+FFFD and never find the content.
    content = make_content(creator, info_hash=bytes(0x80 | b for b in secrets.token_bytes(20)))

    reply = announce(fan_passkey, info_hash_of(content))

    assert reply[b"incomplete"] == 1


def test_a_failing_peer_store_gives_a_bencoded_failure(
    fan_passkey: str, free_content: Content, settings: Settings
) -> None:
    # Nothing listens on port 1: every Redis call fails.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    reply = announce(fan_passkey, info_hash_of(free_content))

    assert failure(reply) == "tracker error, try again later"


# --- peers -----------------------------------------------------------------------------------


def test_compact_reply_lists_the_other_peers(fan_passkey: str, free_content: Content) -> None:
    # given: three peers, one of them a seeder
    ih = info_hash_of(free_content)
    announce(fan_passkey, ih, ip="10.0.0.1", port=6001, event="started")
    announce(fan_passkey, ih, ip="10.0.0.2", port=6002, event="started")
    announce(fan_passkey, ih, ip="10.0.0.3", port=6003, left=0, event="started")

    # when: a fourth joins
    reply = announce(fan_passkey, ih, ip="10.0.0.4", port=6004, compact=1, event="started")

    # then: it gets the three others and not itself
    assert reply[b"interval"] == settings.TRACKER_INTERVAL_SECONDS
    assert 0 < reply[b"min interval"] <= reply[b"interval"]
    assert (reply[b"complete"], reply[b"incomplete"]) == (1, 3)
    assert compact_peers(reply[b"peers"]) == {
        ("10.0.0.1", 6001),
        ("10.0.0.2", 6002),
        ("10.0.0.3", 6003),
    }
    assert b"peers6" not in reply


def test_paused_event_is_an_ordinary_announce(fan_passkey: str, free_content: Content) -> None:
    # BEP 21: libtorrent reports an upload-only torrent with event=paused.
    ih = info_hash_of(free_content)
    announce(fan_passkey, ih, ip="10.0.0.1", port=6001)

    reply = announce(fan_passkey, ih, ip="10.0.0.2", port=6002, left=0, event="paused")

    assert compact_peers(reply[b"peers"]) == {("10.0.0.1", 6001)}
    assert (reply[b"complete"], reply[b"incomplete"]) == (1, 1)


def test_a_peer_is_never_given_itself(fan_passkey: str, free_content: Content) -> None:
    peer = new_peer_id()
    ih = info_hash_of(free_content)
    announce(fan_passkey, ih, peer, port=6001)

    again = announce(fan_passkey, ih, peer, port=6001)

    assert again[b"peers"] == b""
    assert again[b"incomplete"] == 1


def test_non_compact_reply_lists_dicts(fan_passkey: str, free_content: Content) -> None:
    ih = info_hash_of(free_content)
    other = new_peer_id()
    announce(fan_passkey, ih, other, ip="10.0.0.9", port=6009)

    with_ids = announce(fan_passkey, ih, ip="10.0.0.10", compact=0)
    without_ids = announce(fan_passkey, ih, ip="10.0.0.11", compact=0, no_peer_id=1)

    assert {b"ip": b"10.0.0.9", b"port": 6009, b"peer id": other} in with_ids[b"peers"]
    assert len(with_ids[b"peers"]) == 1
    assert all(b"peer id" not in peer for peer in without_ids[b"peers"])
    assert {b"ip": b"10.0.0.9", b"port": 6009} in without_ids[b"peers"]


def test_ipv6_peers_go_to_peers6(fan_passkey: str, free_content: Content) -> None:
    ih = info_hash_of(free_content)
    announce(fan_passkey, ih, ip="2001:db8::1", port=6001)
    announce(fan_passkey, ih, ip="10.0.0.2", port=6002)
    # a dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d
    announce(fan_passkey, ih, ip="::ffff:10.0.0.3", port=6003)

    reply = announce(fan_passkey, ih, ip="2001:db8::2", port=6004)
    listed = announce(fan_passkey, ih, ip="10.0.0.5", port=6005, compact=0)

    assert compact_peers(reply[b"peers6"], size=18) == {("2001:db8::1", 6001)}
    assert compact_peers(reply[b"peers"]) == {("10.0.0.2", 6002), ("10.0.0.3", 6003)}
    assert {(p[b"ip"], p[b"port"]) for p in listed[b"peers"]} == {
        (b"2001:db8::1", 6001),
        (b"2001:db8::2", 6004),
        (b"10.0.0.2", 6002),
        (b"10.0.0.3", 6003),
    }


def test_leechers_get_seeders_first_and_seeders_get_leechers_first(
    fan_passkey: str, free_content: Content
) -> None:
    ih = info_hash_of(free_content)
    seeders = {(f"10.0.1.{i}", 7000 + i) for i in range(1, 4)}
    leechers = {(f"10.0.2.{i}", 8000 + i) for i in range(1, 4)}
    for ip, port in seeders:
        announce(fan_passkey, ih, ip=ip, port=port, left=0)
    for ip, port in leechers:
        announce(fan_passkey, ih, ip=ip, port=port, left=500)

    for_leecher = announce(fan_passkey, ih, ip="10.0.3.1", port=9001, numwant=3)
    for_seeder = announce(fan_passkey, ih, ip="10.0.3.2", port=9002, left=0, numwant=4)
    for_greedy_seeder = announce(fan_passkey, ih, ip="10.0.3.3", port=9003, left=0, numwant=50)

    # then: each gets the other kind first; once those run out, a seeder gets seeders too
    assert compact_peers(for_leecher[b"peers"]) == seeders
    assert compact_peers(for_seeder[b"peers"]) == leechers | {("10.0.3.1", 9001)}
    assert compact_peers(for_greedy_seeder[b"peers"]) == (
        leechers | seeders | {("10.0.3.1", 9001), ("10.0.3.2", 9002)}
    )


def test_a_magnet_client_announcing_left_0_is_given_the_seeders(
    fan_passkey: str, free_content: Content
) -> None:
    # given: the engine is the only peer, a seeder
    ih = info_hash_of(free_content)
    key = engine_passkey(EngineNode.objects.create(name="node-1")).key
    announce(key, ih, ip="10.0.0.9", port=6881, left=0, event="started")

    # when: aria2 starts a magnet: it announces left=0 before it has the metadata
    reply = announce(fan_passkey, ih, ip="10.0.0.1", port=6001, left=0, event="started")

    # then: it is told where the seeder is, so it can fetch the metadata and the pieces
    assert compact_peers(reply[b"peers"]) == {("10.0.0.9", 6881)}


def test_each_address_is_listed_once(fan_passkey: str, free_content: Content) -> None:
    # given: a client restarted with a new peer id on the same address and port (its old entry
    # still live), another client on the same host but another port, and the asker's own twin
    ih = info_hash_of(free_content)
    announce(fan_passkey, ih, ip="10.0.0.1", port=6001, left=0)
    announce(fan_passkey, ih, ip="10.0.0.1", port=6001, left=0)
    announce(fan_passkey, ih, ip="10.0.0.1", port=6002)
    announce(fan_passkey, ih, ip="10.0.0.5", port=6005)

    # when: a client on 10.0.0.5:6005 (restarted too) announces, compact and not
    compact = announce(fan_passkey, ih, ip="10.0.0.5", port=6005)
    listed = announce(fan_passkey, ih, ip="10.0.0.5", port=6005, compact=0)

    # then: every other address once, and never its own
    assert len(compact[b"peers"]) == 2 * 6
    assert compact_peers(compact[b"peers"]) == {("10.0.0.1", 6001), ("10.0.0.1", 6002)}
    assert sorted((p[b"ip"], p[b"port"]) for p in listed[b"peers"]) == [
        (b"10.0.0.1", 6001),
        (b"10.0.0.1", 6002),
    ]


def test_numwant_is_capped(fan_passkey: str, free_content: Content, settings: Settings) -> None:
    settings.TRACKER_MAX_PEERS = 4
    ih = info_hash_of(free_content)
    for i in range(10):
        announce(fan_passkey, ih, ip=f"10.0.4.{i + 1}", port=6000 + i)

    greedy = announce(fan_passkey, ih, ip="10.0.5.1", numwant=200)
    modest = announce(fan_passkey, ih, ip="10.0.5.2", numwant=2)
    none = announce(fan_passkey, ih, ip="10.0.5.3", numwant=0)

    assert len(compact_peers(greedy[b"peers"])) == 4
    assert len(compact_peers(modest[b"peers"])) == 2
    assert none[b"peers"] == b""
    assert none[b"incomplete"] == 13


def test_stopped_removes_the_peer(fan_passkey: str, free_content: Content) -> None:
    ih = info_hash_of(free_content)
    leaving = new_peer_id()
    announce(fan_passkey, ih, leaving, ip="10.0.0.1", port=6001)
    announce(fan_passkey, ih, ip="10.0.0.2", port=6002)

    announce(fan_passkey, ih, leaving, ip="10.0.0.1", port=6001, event="stopped")
    reply = announce(fan_passkey, ih, ip="10.0.0.3", port=6003)

    assert compact_peers(reply[b"peers"]) == {("10.0.0.2", 6002)}
    assert reply[b"incomplete"] == 2


def test_another_user_cannot_stop_my_peer(
    fan_passkey: str, stranger: User, free_content: Content
) -> None:
    ih = info_hash_of(free_content)
    peer = new_peer_id()
    announce(fan_passkey, ih, peer, ip="10.0.0.1", port=6001)

    announce(active_passkey(stranger).key, ih, peer, ip="10.6.6.6", port=6666, event="stopped")

    reply = announce(fan_passkey, ih, ip="10.0.0.2", port=6002)
    assert compact_peers(reply[b"peers"]) == {("10.0.0.1", 6001)}


def test_stale_peers_are_dropped(fan_passkey: str, free_content: Content) -> None:
    ih = info_hash_of(free_content)
    gone = new_peer_id()
    announce(fan_passkey, ih, gone, ip="10.0.0.1", port=6001)
    announce(fan_passkey, ih, ip="10.0.0.2", port=6002)
    # given: the first peer missed its announce by more than half an interval (it vanished
    # without "stopped"); 1.6 intervals ago, where a cutoff of two intervals would keep it
    seen_long_ago = time.time() - 1.6 * settings.TRACKER_INTERVAL_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.zadd(f"trk:{ih.hex()}:l", {gone + fan_passkey.encode(): seen_long_ago})
    client.close()

    # then: scrape does not count it and the next announce neither lists nor counts it
    assert swarm_counts(fan_passkey, free_content)[b"incomplete"] == 1
    reply = announce(fan_passkey, ih, ip="10.0.0.3", port=6003)
    assert compact_peers(reply[b"peers"]) == {("10.0.0.2", 6002)}
    assert reply[b"incomplete"] == 2


def test_a_peer_late_by_less_than_half_an_interval_stays(
    fan_passkey: str, free_content: Content
) -> None:
    ih = info_hash_of(free_content)
    late = new_peer_id()
    announce(fan_passkey, ih, late, ip="10.0.0.1", port=6001)
    seen = time.time() - 1.4 * settings.TRACKER_INTERVAL_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.zadd(f"trk:{ih.hex()}:l", {late + fan_passkey.encode(): seen})
    client.close()

    reply = announce(fan_passkey, ih, ip="10.0.0.3", port=6003)

    assert compact_peers(reply[b"peers"]) == {("10.0.0.1", 6001)}


# --- scrape ----------------------------------------------------------------------------------


def test_scrape_counts_seeders_leechers_and_completions(fan_passkey: str, creator: Creator) -> None:
    # given: two contents; on the first 2 seeders, 3 leechers, one of whom completes (twice)
    first, second = make_content(creator), make_content(creator)
    ih = info_hash_of(first)
    announce(fan_passkey, ih, ip="10.0.0.1", left=0)
    announce(fan_passkey, ih, ip="10.0.0.2", left=0)
    finisher = new_peer_id()
    announce(fan_passkey, ih, finisher, ip="10.0.0.3")
    announce(fan_passkey, ih, ip="10.0.0.4")
    announce(fan_passkey, ih, ip="10.0.0.5")
    announce(fan_passkey, ih, finisher, ip="10.0.0.3", left=0, event="completed")
    announce(fan_passkey, ih, finisher, ip="10.0.0.3", left=0, event="completed")
    announce(fan_passkey, info_hash_of(second), ip="10.0.0.6")

    # when: scraping both and a hash nobody knows
    unknown = secrets.token_bytes(20)
    reply = scrape(fan_passkey, ih, info_hash_of(second), unknown)

    # then
    assert reply == {
        b"files": {
            ih: {b"complete": 3, b"incomplete": 2, b"downloaded": 1},
            info_hash_of(second): {b"complete": 0, b"incomplete": 1, b"downloaded": 0},
        }
    }


def test_scrape_leaves_out_what_the_user_may_not_see(
    stranger: User, free_content: Content, paid_content: Content
) -> None:
    reply = scrape(
        active_passkey(stranger).key, info_hash_of(free_content), info_hash_of(paid_content)
    )

    assert list(reply[b"files"]) == [info_hash_of(free_content)]


def test_scrape_refusals(fan_passkey: str, free_content: Content) -> None:
    assert failure(scrape("0" * 32, info_hash_of(free_content))) == "invalid passkey"
    assert failure(scrape(fan_passkey)) == "missing info_hash"
    assert failure(scrape(fan_passkey, b"short")) == "invalid info_hash"
    many = [secrets.token_bytes(20) for _ in range(protocol.MAX_SCRAPE_HASHES + 1)]
    assert failure(scrape(fan_passkey, *many)).startswith("at most")


# --- engines ---------------------------------------------------------------------------------


def test_engine_passkey_announces_any_published_content(
    paid_content: Content, creator: Creator
) -> None:
    node = EngineNode.objects.create(name="node-1")
    key = engine_passkey(node).key
    removed = make_content(creator, state=Content.State.REMOVED)
    unhealthy = make_content(creator, state=Content.State.UNHEALTHY, access=Content.Access.PAID)

    seeding = announce(key, info_hash_of(paid_content), left=0, uploaded=10**9, event="started")
    also = announce(key, info_hash_of(unhealthy), left=0)
    refused = announce(key, info_hash_of(removed), left=0)
    async_to_sync(transfers.flush_transfer_totals)()

    assert seeding[b"complete"] == 1
    assert also[b"complete"] == 1
    assert failure(refused) == "unregistered torrent: removed"
    assert not TransferTotal.objects.exists()  # an engine's bytes are nobody's download


def test_a_restarted_engine_replaces_its_old_entry(fan_passkey: str, free_content: Content) -> None:
    # given: an engine seeding, then killed (no "stopped") and restarted: new peer id, new port
    key = engine_passkey(EngineNode.objects.create(name="node-1")).key
    ih = info_hash_of(free_content)
    announce(key, ih, new_peer_id(), ip="10.0.0.9", port=6881, left=0, event="started")
    announce(key, ih, new_peer_id(), ip="10.0.0.9", port=7881, left=0, event="started")

    # when: a fan announces
    reply = announce(fan_passkey, ih, ip="10.0.0.1", port=6001, event="started")

    # then: only the live engine is handed out, and counted once
    assert compact_peers(reply[b"peers"]) == {("10.0.0.9", 7881)}
    assert reply[b"complete"] == 1

    # and a fan's two clients each keep their place (only engines are one per passkey)
    announce(fan_passkey, ih, ip="10.0.0.2", port=6002, event="started")
    assert announce(key, ih, ip="10.0.0.9", port=7881, left=0)[b"incomplete"] == 2


# --- transfer accounting -----------------------------------------------------------------------


def test_transfer_deltas_are_recorded_across_a_client_restart(
    fan: User, fan_passkey: str, free_content: Content
) -> None:
    ih = info_hash_of(free_content)
    peer = new_peer_id()

    # given: a client reports growing counters, then restarts and counts from 0 again
    announce(fan_passkey, ih, peer, uploaded=100, downloaded=1000, event="started")
    announce(fan_passkey, ih, peer, uploaded=300, downloaded=5000)
    announce(fan_passkey, ih, peer, uploaded=300, downloaded=5000)
    announce(fan_passkey, ih, peer, uploaded=50, downloaded=0, event="started")
    announce(fan_passkey, ih, peer, uploaded=70, downloaded=10, event="stopped")
    # and a second client of the same user, with counters past a 64-bit float's precision
    announce(fan_passkey, ih, uploaded=2**60 + 1, downloaded=0)

    # when
    async_to_sync(transfers.flush_transfer_totals)()

    # then: 300 + 70 and 5000 + 10 from the first, 2**60 + 1 from the second
    total = TransferTotal.objects.get(user=fan, content=free_content)
    assert (total.uploaded, total.downloaded) == (370 + 2**60 + 1, 5010)

    # and a second flush adds nothing; later reports add only their deltas
    async_to_sync(transfers.flush_transfer_totals)()
    announce(fan_passkey, ih, peer, uploaded=100, downloaded=10, event="started")
    async_to_sync(transfers.flush_transfer_totals)()
    total.refresh_from_db()
    assert (total.uploaded, total.downloaded) == (400 + 2**60 + 1, 5010)


def test_transfers_of_several_users_are_kept_apart(
    fan: User, stranger: User, creator: Creator
) -> None:
    first, second = make_content(creator), make_content(creator)
    stranger_key = active_passkey(stranger).key
    fan_key = active_passkey(fan).key

    announce(fan_key, info_hash_of(first), uploaded=1, downloaded=2)
    announce(fan_key, info_hash_of(second), uploaded=3, downloaded=4)
    announce(stranger_key, info_hash_of(first), uploaded=5, downloaded=6)
    announce(stranger_key, info_hash_of(second), downloaded=0)
    async_to_sync(transfers.flush_transfer_totals)()

    totals = {
        (t.user_id, t.content_id): (t.uploaded, t.downloaded) for t in TransferTotal.objects.all()
    }
    assert totals == {
        (fan.pk, first.pk): (1, 2),
        (fan.pk, second.pk): (3, 4),
        (stranger.pk, first.pk): (5, 6),
    }


def test_forged_huge_counters_saturate_and_block_nobody(
    fan: User, fan_passkey: str, stranger: User, free_content: Content
) -> None:
    ih = info_hash_of(free_content)
    peer = new_peer_id()
    biggest = 2**63 - 1

    # given: a client alternating absurd counters (the pending sum would overflow 64 bits)
    first = announce(fan_passkey, ih, peer, uploaded=biggest)
    announce(fan_passkey, ih, peer, uploaded=0)
    third = announce(fan_passkey, ih, peer, uploaded=biggest)
    announce(active_passkey(stranger).key, ih, uploaded=5)
    async_to_sync(transfers.flush_transfer_totals)()
    # and once more on top of a total already at the maximum
    announce(fan_passkey, ih, peer, uploaded=0)
    announce(fan_passkey, ih, peer, uploaded=biggest)
    async_to_sync(transfers.flush_transfer_totals)()

    # then: every announce was answered, the total saturates, the other user's bytes count
    assert b"peers" in first
    assert b"peers" in third
    assert TransferTotal.objects.get(user=fan, content=free_content).uploaded == biggest
    assert TransferTotal.objects.get(user=stranger, content=free_content).uploaded == 5


def test_announces_flush_pending_totals_by_themselves(
    fan: User, fan_passkey: str, free_content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfers, "TRANSFER_FLUSH_SECONDS", 0.0)
    monkeypatch.setattr(transfers, "next_flush", 0.0)
    peer = new_peer_id()

    announce(fan_passkey, info_hash_of(free_content), peer, uploaded=10, downloaded=20)
    announce(fan_passkey, info_hash_of(free_content), peer, uploaded=15, downloaded=20)

    total = TransferTotal.objects.get(user=fan, content=free_content)
    assert (total.uploaded, total.downloaded) == (15, 20)


# --- async client and a real BitTorrent client -----------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_async_client_announce(fan_passkey: str, free_content: Content) -> None:
    query = announce_query(info_hash_of(free_content), new_peer_id(), port=6881)

    response = await AsyncClient().get(f"/announce/{fan_passkey}?{query}")
    # The test client keeps connections open across requests; close the one the view's ORM
    # calls opened on the sync thread, or the test database cannot be dropped.
    await sync_to_async(connections.close_all)()

    reply = bdecode(response)
    assert (reply[b"complete"], reply[b"incomplete"]) == (0, 1)


def test_real_libtorrent_client_announces_and_scrapes(
    asgi_server: AsgiServer, fan: User, creator: Creator, tmp_path: Path
) -> None:
    # given: a small file, its v1 torrent announcing to our live tracker with the fan's passkey
    payload = tmp_path / "hello.bin"
    payload.write_bytes(secrets.token_bytes(100_000))
    maker = lt.create_torrent(
        [lt.create_file_entry(payload.name, payload.stat().st_size)],
        16384,
        lt.create_torrent.v1_only,
    )
    lt.set_piece_hashes(maker, str(tmp_path))
    passkey = active_passkey(fan).key
    maker.add_tracker(f"{asgi_server.url}/announce/{passkey}")
    info = lt.torrent_info(lt.bencode(maker.generate()))
    content = make_content(
        creator,
        access=Content.Access.PAID,
        info_hash=bytes.fromhex(str(info.info_hashes().v1)),
    )
    ledger.grant(fan, content, Grant.Source.PURCHASE)

    # when: a real libtorrent session seeds it
    session = lt.session(
        lt.session_params(
            client_settings(
                0,
                # The scrape URL (/scrape/<passkey>) does not start with /announce, so
                # libtorrent's SSRF mitigation refuses it on a loopback tracker (never on a
                # public one).
                ssrf_mitigation=False,
                alert_mask=lt.alert_category.all,
            )
        )
    )
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = str(tmp_path)
    handle = session.add_torrent(params)
    replies: list[int] = []
    errors: list[str] = []
    scraped: list[tuple[int, int]] = []

    def pump() -> None:
        for alert in session.pop_alerts():
            if isinstance(alert, lt.tracker_reply_alert):
                replies.append(alert.num_peers)
            elif isinstance(alert, lt.tracker_error_alert):
                errors.append(alert.message())
            elif isinstance(alert, lt.scrape_reply_alert):
                scraped.append((alert.complete, alert.incomplete))

    try:

        def seeding_and_announced() -> bool:
            pump()
            return bool(replies) and handle.status().is_seeding

        wait_for(seeding_and_announced, timeout=60, what="a tracker reply")
        # libtorrent finds the scrape URL by replacing "announce" in the announce URL
        handle.scrape_tracker()

        def scrape_replied() -> bool:
            pump()
            return bool(scraped)

        wait_for(scrape_replied, timeout=60, what="a scrape reply")
        seeding_counts = swarm_counts(passkey, content)
    finally:
        # removing the torrent announces "stopped"
        session.remove_torrent(handle)

    # then: the tracker saw the seeder, libtorrent parsed our replies, and it left at "stopped"
    assert errors == []
    assert replies[0] == 0  # no other peers
    assert scraped[-1] == (1, 0)
    assert (seeding_counts[b"complete"], seeding_counts[b"incomplete"]) == (1, 0)
    wait_for(
        lambda: swarm_counts(passkey, content)[b"complete"] == 0,
        timeout=60,
        what="the stopped announce",
    )


def test_live_server_refuses_a_stranger(
    asgi_server: AsgiServer, stranger: User, paid_content: Content
) -> None:
    key = active_passkey(stranger).key
    query = announce_query(info_hash_of(paid_content), new_peer_id())

    response = httpx.get(f"{asgi_server.url}/announce/{key}?{query}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert lt.bdecode(response.content) == {b"failure reason": b"not entitled to this torrent"}


def test_live_server_answers_as_the_views_do(
    asgi_server: AsgiServer, fan_passkey: str, free_content: Content
) -> None:
    # The ASGI fast path (swarm.tracker.asgi.TrackerRouter) and Django's views: the same bytes.
    ih = info_hash_of(free_content)
    paths = [
        "/announce",
        "/announce/",
        "/scrape/",
        f"/announce/{'0' * 32}?{announce_query(ih, new_peer_id())}",
        f"/announce/{fan_passkey}?info_hash=%FF%FE&peer_id=x",
        f"/scrape/{fan_passkey}?info_hash={encode(ih)}&info_hash={encode(b'x' * 20)}",
    ]

    for path in paths:
        live = httpx.get(asgi_server.url + path)
        view = Client().get(path)

        assert live.status_code == 200
        assert live.headers["content-type"] == "text/plain"
        assert live.content == view.content
