"""Access ends at the engine's door when the ledger revokes it: the ledger tells the swarm, which
takes back the user's admissions for that torrent (the engine's allow-list follows within a
second; tests/swarm/test_engine_admission.py shows the engine dropping the peer)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import admission
from swarm.models import Content
from swarm.services import rotate_passkey

pytestmark = pytest.mark.django_db


def paid(creator: Creator, infohash: str) -> Content:
    return Content.objects.create(
        creator=creator,
        title=f"Paid {infohash[:4]}",
        name="film.mkv",
        access=Content.Access.PAID,
        state=Content.State.SEEDING,
        infohash=infohash,
    )


def admit(user: User, content: Content, ip: str) -> None:
    async def record() -> None:
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        try:
            await admission.record(
                client,
                infohash=str(content.infohash),
                user_id=user.pk,
                address=ipaddress.ip_address(ip),
                member=b"-LT2110-" + b"x" * 12 + b"passkey",
                stopped=False,
            )
        finally:
            await client.aclose()

    async_to_sync(record)()


def test_a_revoked_purchase_takes_the_fans_address_off_the_engines_list(
    fan: User, creator: Creator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    # given: the fan bought two paid items and announced both from 127.0.0.2
    film, album = paid(creator, "aa" * 20), paid(creator, "bb" * 20)
    ledger.grant(fan, film, Grant.Source.PURCHASE, "invoice-1")
    ledger.grant(fan, album, Grant.Source.PURCHASE, "invoice-2")
    admit(fan, film, "127.0.0.2")
    admit(fan, album, "127.0.0.2")
    assert admission.admitted(["aa" * 20])["aa" * 20] == {"127.0.0.2"}

    # when: the film's purchase is refunded (its grant revoked)
    with django_capture_on_commit_callbacks(execute=True):
        ledger.revoke_source(Grant.Source.PURCHASE, "invoice-1", "refunded")

    # then: off the film's list, still on the album's
    assert admission.admitted(["aa" * 20, "bb" * 20]) == {
        "aa" * 20: frozenset(),
        "bb" * 20: frozenset({"127.0.0.2"}),
    }


def test_a_revoked_grant_leaves_the_address_while_another_grant_still_covers_it(
    fan: User, creator: Creator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    film = paid(creator, "cc" * 20)
    ledger.grant(fan, film, Grant.Source.PURCHASE, "invoice-3")
    ledger.grant(fan, film, Grant.Source.STAFF, "comp copy")
    admit(fan, film, "127.0.0.3")

    with django_capture_on_commit_callbacks(execute=True):
        ledger.revoke_source(Grant.Source.PURCHASE, "invoice-3", "payment dropped")

    assert admission.admitted(["cc" * 20])["cc" * 20] == {"127.0.0.3"}


def test_rotating_a_passkey_takes_back_every_admission_of_its_owner(
    fan: User, creator: Creator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    film = paid(creator, "dd" * 20)
    ledger.grant(fan, film, Grant.Source.PURCHASE, "invoice-4")
    admit(fan, film, "127.0.0.4")

    with django_capture_on_commit_callbacks(execute=True):
        rotate_passkey(fan)

    assert admission.admitted(["dd" * 20])["dd" * 20] == frozenset()
