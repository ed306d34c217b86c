"""Pending transfer deltas moved into ``TransferTotal`` (``swarm.tracker.transfers``): each
(passkey, infohash) finds its user and content in the statement that adds to their row."""

from __future__ import annotations

import secrets

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.models import User
from creators.models import Creator
from swarm.models import Content, TransferTotal
from swarm.services import active_passkey, rotate_passkey
from swarm.tracker import transfers
from swarm.tracker.peers import PENDING_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def content_of(creator: Creator) -> Content:
    return Content.objects.create(
        creator=creator,
        title="Free",
        name="free.bin",
        access=Content.Access.FREE,
        state=Content.State.SEEDING,
        total_size=1000,
        infohash=secrets.token_bytes(20).hex(),
    )


def pending(deltas: dict[str, int]) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for field, value in deltas.items():
        client.hset(PENDING_KEY, field, value)


def totals() -> set[tuple[int, int, int, int]]:
    return set(TransferTotal.objects.values_list("user_id", "content_id", "uploaded", "downloaded"))


def test_deltas_of_a_rotated_passkey_and_its_successor_add_up_on_one_row(
    fan: User, creator: Creator
) -> None:
    # given: deltas pending under the fan's old passkey and under the new one, one content
    content = content_of(creator)
    old = active_passkey(fan).key
    new = rotate_passkey(fan).key
    pending(
        {
            f"{old}:{content.infohash}:u": 100,
            f"{old}:{content.infohash}:d": 7,
            f"{new}:{content.infohash}:u": 20,
        }
    )

    # when: they are flushed, twice over (the second finds nothing pending)
    async_to_sync(transfers.flush_transfer_totals)()
    async_to_sync(transfers.flush_transfer_totals)()

    # then: one row for the fan and the content, with both passkeys' bytes
    assert totals() == {(fan.pk, content.pk, 120, 7)}


def test_deltas_of_a_deleted_content_or_unknown_passkey_are_dropped_and_the_rest_kept(
    fan: User, creator: Creator
) -> None:
    # given: pending deltas for a live content, a content deleted since, and an unknown key
    kept, gone = content_of(creator), content_of(creator)
    key = active_passkey(fan).key
    pending(
        {
            f"{key}:{kept.infohash}:u": 5,
            f"{key}:{gone.infohash}:u": 9,
            f"{'x' * 32}:{kept.infohash}:d": 3,
            "malformed": 1,
        }
    )
    Content.objects.filter(pk=gone.pk).delete()

    # when
    async_to_sync(transfers.flush_transfer_totals)()

    # then: only the live pair's bytes, and nothing left pending
    assert totals() == {(fan.pk, kept.pk, 5, 0)}
    assert not redis.Redis.from_url(settings.REDIS_URL).exists(PENDING_KEY)
