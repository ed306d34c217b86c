"""How a content's swarm is told: its creator and staff read the numbers (a count agrees with
its noun), a buyer reads what they mean, with no torrent jargon."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import User
from creators.models import Creator
from swarm.models import Content
from tests.fixtures.content import Site

pytestmark = pytest.mark.django_db(transaction=True)


def page_of(user: User, content: Content) -> str:
    client = Client()
    client.force_login(user)
    return client.get(f"/content/{content.pk}/").content.decode()


def test_the_creator_and_staff_read_counts_in_agreement_a_fan_reads_plain_words(
    site: Site,
    publish: Callable[..., Content],
    creator: Creator,
    fan: User,
    staff: User,
) -> None:
    content = publish(creator, {"free.bin": b"y" * 5000}, title="Sampler")
    Content.objects.filter(pk=content.pk).update(peers=1, seeds=1)

    for insider in (creator.user, staff):
        body = page_of(insider, content)
        assert "<span data-swarm-peers-word>peer</span>" in body
        assert "<span data-swarm-seeds-word>seed</span>" in body
    Content.objects.filter(pk=content.pk).update(peers=0, seeds=2)
    body = page_of(creator.user, content)
    assert "<strong data-swarm-peers>0</strong> <span data-swarm-peers-word>peers</span>" in body
    assert "<strong data-swarm-seeds>2</strong> <span data-swarm-seeds-word>seeds</span>" in body

    told = page_of(fan, content)
    assert "Available — served by the platform, and shared by other fans too." in told
    for jargon in ("Swarm:", "peer", "seed"):
        assert jargon not in told.split("data-swarm-plain", 1)[1].split("</p>", 1)[0]
