"""The tracker's decisions kept in Redis: an announce answered without the database, and every
change that ends access (a revoked grant, a rotated passkey, a takedown, a grant's end) taking
effect at once although the entry that allowed it was kept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings

from accounts.models import User
from btt_platform import clock as platform_clock
from btt_platform import fastpath
from creators.models import Creator
from ledger import services as ledger
from ledger.access import Access
from ledger.models import Grant
from swarm.models import Content
from swarm.services import active_passkey, rotate_passkey, take_down_content
from swarm.tracker import auth, entitlements
from swarm.tracker.auth import Refusal
from swarm.tracker.peers import redis_client
from tests.fixtures.clock import Clock
from tests.fixtures.content import paid_torrent

# Committed rows: the tracker reads the database on a connection of its own (another thread).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tracker's trips to the database, by what it asked."""
    asked: list[str] = []
    real = fastpath.in_database

    async def counted(function: Callable[..., Any], *args: Any) -> Any:
        asked.append(args[0])
        return await real(function, *args)

    monkeypatch.setattr(auth, "in_database", counted)
    return asked


def authorise(fan: User, content: Content) -> auth.Grant | Refusal:
    assert content.infohash is not None
    return asyncio.run(auth.authorise(active_passkey(fan).key, content.infohash))


def kept_keys() -> set[str]:
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return {str(key) for key in client.keys("trk:auth:*")}


def test_a_pair_decided_once_is_answered_from_redis_without_the_database(
    fan: User, creator: Creator, hops: list[str]
) -> None:
    # given: the fan holds a grant for a paid content
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)

    # when: the fan announces it three times
    answers = [authorise(fan, content) for _ in range(3)]

    # then: the same grant each time, and the database asked once
    assert answers == [auth.Grant(content.pk, fan.pk, private=True, until=None)] * 3
    assert hops == [active_passkey(fan).key]
    assert f"trk:auth:a:{fan.pk}:{content.pk}" in kept_keys()


def test_a_revoked_grant_whose_decision_is_kept_is_refused_at_once(
    fan: User, creator: Creator, hops: list[str]
) -> None:
    # given: the fan's announce was allowed, and the decision kept
    content = paid_torrent(creator)
    grant = ledger.grant(fan, content, Grant.Source.STAFF)
    assert isinstance(authorise(fan, content), auth.Grant)

    # when: the grant is revoked
    ledger.revoke_grant(grant.pk, "refunded")

    # then: the next announce is refused, decided again from the database
    refusal = authorise(fan, content)
    assert refusal == Refusal("not entitled to this torrent")
    assert len(hops) == 2


def test_a_decision_kept_in_redis_is_not_trusted_after_its_grant_was_revoked_elsewhere(
    fan: User, creator: Creator
) -> None:
    # given: an allowed decision, kept; the grant is then revoked by a process whose event
    # never reached Redis (the attacker's hope: the entry outlives the grant)
    content = paid_torrent(creator)
    grant = ledger.grant(fan, content, Grant.Source.STAFF)
    assert isinstance(authorise(fan, content), auth.Grant)
    Grant.objects.filter(pk=grant.pk).update(revoked_at=platform_clock.now())
    # when: the change is told, as ledger.services tells its listeners
    entitlements.forget_decision(fan.pk, content.pk)
    # then: refused, though the passkey's and content's entries are still kept
    assert authorise(fan, content) == Refusal("not entitled to this torrent")
    assert {f"trk:auth:c:{content.infohash}"} <= kept_keys()


def test_a_fill_that_read_the_database_before_a_revocation_writes_nothing(
    fan: User, creator: Creator
) -> None:
    # given: a lookup read an allowed decision; the grant is revoked before it writes it
    content = paid_torrent(creator)
    assert content.infohash is not None
    ledger.grant(fan, content, Grant.Source.STAFF)
    passkey = active_passkey(fan)
    stale = Access(True, Grant.Source.STAFF)

    async def lookup_time() -> int:
        return (await entitlements.lookup(await redis_client(), passkey.key, "0" * 40)).at

    read_at = asyncio.run(lookup_time())
    infohash = content.infohash
    entitlements.forget_decision(fan.pk, content.pk)  # the revocation's listener

    # when: the slow lookup writes what it read
    async def late_fill() -> None:
        client = await redis_client()
        await entitlements.fill(client, read_at, passkey.key, passkey, infohash, content, stale)

    asyncio.run(late_fill())

    # then: the tombstone kept it out
    assert f"trk:auth:a:{fan.pk}:{content.pk}" not in kept_keys()


def test_a_grant_whose_until_passes_while_kept_ends_on_time(
    fan: User, creator: Creator, clock: Clock, hops: list[str]
) -> None:
    # given: a rental-like grant for 2 hours, decided and kept
    content = paid_torrent(creator)
    ends = clock.now() + timedelta(hours=2)
    ledger.grant(fan, content, Grant.Source.STAFF, until=ends)
    allowed = authorise(fan, content)
    assert isinstance(allowed, auth.Grant)
    assert allowed.until == ends.timestamp()

    # when: the platform clock passes its end (the entry's own expiry is wall-clock hours away)
    clock.advance(timedelta(hours=2, seconds=1))

    # then: refused at once, the kept entry notwithstanding
    assert f"trk:auth:a:{fan.pk}:{content.pk}" in kept_keys()
    assert authorise(fan, content) == Refusal("not entitled to this torrent")


def test_a_renewal_before_the_end_is_taken_up_when_the_old_period_ends(
    fan: User, creator: Creator, clock: Clock
) -> None:
    # given: a period ending in a day, decided and kept, and the next one paid ahead
    content = paid_torrent(creator)
    first_end = clock.now() + timedelta(days=1)
    second_end = first_end + timedelta(days=30)
    ledger.grant(fan, content, Grant.Source.STAFF, "p1", until=first_end)
    assert isinstance(authorise(fan, content), auth.Grant)
    ledger.grant(fan, content, Grant.Source.STAFF, "p2", starts_at=first_end, until=second_end)

    # when: the first period ends
    clock.advance(timedelta(days=1, seconds=1))

    # then: the announce is allowed on the second period
    renewed = authorise(fan, content)
    assert isinstance(renewed, auth.Grant)
    assert renewed.until == second_end.timestamp()


def test_a_rotated_passkey_whose_entry_is_kept_is_refused_at_once(
    fan: User, creator: Creator
) -> None:
    # given: the fan's passkey was looked up and kept
    content = paid_torrent(creator)
    assert content.infohash is not None
    ledger.grant(fan, content, Grant.Source.STAFF)
    old = active_passkey(fan).key
    assert isinstance(asyncio.run(auth.authorise(old, content.infohash)), auth.Grant)

    # when: it is rotated
    new = rotate_passkey(fan).key

    # then: the old one is refused at once, the new one allowed
    assert asyncio.run(auth.authorise(old, content.infohash)) == Refusal(
        "passkey revoked: download the torrent again", about_passkey=True
    )
    assert isinstance(asyncio.run(auth.authorise(new, content.infohash)), auth.Grant)


def test_a_takedown_refuses_at_once_though_the_content_was_kept(
    fan: User, creator: Creator, moderator: User
) -> None:
    # given: the fan's announce of the content was allowed, and the content's entry kept
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)
    assert isinstance(authorise(fan, content), auth.Grant)

    # when: a moderator takes it down
    take_down_content(moderator, content.pk, "copyright claim")

    # then: refused at once, with the reason
    assert authorise(fan, content) == Refusal("unregistered torrent: copyright claim")


def test_an_inactive_account_is_refused_once_its_passkey_is_read_again(
    fan: User, creator: Creator
) -> None:
    # given: an allowed decision, taken while the account was active
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)
    assert isinstance(authorise(fan, content), auth.Grant)

    # when: the account is deactivated and its passkey read again (kept decisions name the
    # facts they were taken with, so the old one no longer applies)
    User.objects.filter(pk=fan.pk).update(is_active=False)
    auth.forget_passkey(active_passkey(fan).key)

    # then: refused
    assert authorise(fan, content) == Refusal("not entitled to this torrent")


def test_an_account_deactivated_by_staff_is_refused_at_once(fan: User, creator: Creator) -> None:
    # given: an allowed decision kept for the fan's passkey
    content = paid_torrent(creator)
    ledger.grant(fan, content, Grant.Source.STAFF)
    assert isinstance(authorise(fan, content), auth.Grant)

    # when: staff deactivate the account (the admin saves the user)
    fan.is_active = False
    fan.save(update_fields=["is_active"])

    # then: refused on the next announce, nothing forgotten by hand
    assert authorise(fan, content) == Refusal("not entitled to this torrent")
