"""Tips and campaigns through the JSON API with personal tokens: amounts as strings, refusals
with a status and a reason, nothing made on a refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from payments.money import Amount, Token
from support import campaigns
from support.models import Pledge, Tip
from tests.fixtures.api_clients import client_for, numbers_in, post
from tests.support.tipping import tipping_creator

pytestmark = pytest.mark.django_db


def test_a_fan_tips_and_the_creator_reads_it_in_their_feed(fan: User, creator: Creator) -> None:
    # given
    tipping_creator(creator)

    # when
    status, tip = post(
        client_for(fan),
        f"/api/v1/creators/{creator.handle}/tips",
        {"amount": "250", "name": "Ada\u200b", "message": "<b>hi</b>"},
    )

    # then
    assert status == 201, tip
    assert (tip["name"], tip["message"], tip["state"], tip["pay_to"]) == (
        "Ada",
        "<b>hi</b>",
        "new",
        creator.payout_address,
    )
    assert tip["amount_due"] == {
        "value": "250.000001",
        "units": str(Amount.parse("250.000001", Token.BTT).units),
        "token": "BTT",
    }
    feed = client_for(creator.user).get("/api/v1/tips").json()
    assert [t["id"] for t in feed] == [tip["id"]]
    assert numbers_in(feed) == []
    assert client_for(fan).get("/api/v1/tips").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"amount": "1e3"}, 422, "'1e3' is not a decimal amount like 12.5"),
        ({"amount": "10"}, 400, "The smallest tip here is 100 BTT."),
        ({"amount": "150", "name": "n" * 60}, 400, "The name is 60 characters; at most 40."),
        ({"amount": "150", "content_id": 999}, 404, "No such content."),
    ],
)
def test_a_refused_tip_says_why_and_makes_nothing(
    fan: User, creator: Creator, body: dict[str, object], status: int, detail: str
) -> None:
    tipping_creator(creator)
    got, answer = post(client_for(fan), f"/api/v1/creators/{creator.handle}/tips", body)
    assert (got, answer) == (status, {"detail": detail})
    assert not Tip.objects.exists()


def test_a_fan_reads_a_campaign_and_pledges_for_a_limited_reward(
    fan: User, stranger: User, creator: Creator
) -> None:
    tipping_creator(creator)
    campaign = campaigns.create_campaign(
        creator.user,
        title="Album",
        story="Songs",
        goal=Amount.parse("1000", Token.BTT),
        deadline=timezone.now() + timedelta(days=2),
        mode="all_or_nothing",
        tiers=[campaigns.TierSpec("CD", Amount.parse("100", Token.BTT), limit=1)],
    )
    tier = campaign.tiers.get()

    status, pledge = post(
        client_for(fan),
        f"/api/v1/campaigns/{campaign.pk}/pledges",
        {"amount": "100", "tier_id": tier.pk},
    )
    second, refused = post(
        client_for(stranger),
        f"/api/v1/campaigns/{campaign.pk}/pledges",
        {"amount": "100", "tier_id": tier.pk},
    )
    detail = Client().get(f"/api/v1/campaigns/{campaign.pk}").json()

    assert status == 201
    assert (pledge["state"], pledge["invoice_id"], pledge["tier_id"]) == (
        "committed",
        None,
        tier.pk,
    )
    assert (second, refused) == (409, {"detail": "“CD” is sold out."})
    assert detail["raised"]["value"] == "100"
    assert detail["tiers"][0]["left"] == 0
    assert detail["websocket"] == f"/ws/campaign/{campaign.pk}/"
    assert numbers_in(detail) == []
    assert Pledge.objects.count() == 1


@pytest.mark.rate_limits
def test_tips_through_the_api_count_against_the_same_limit_as_the_form(
    fan: User, creator: Creator
) -> None:
    from django.core.cache import cache
    from django.urls import reverse

    # given: the fan sent 15 tips through the form (each below the minimum: refused, counted)
    cache.clear()
    tipping_creator(creator)
    page = Client()
    page.force_login(fan)
    for _ in range(15):
        assert page.post(reverse("tip", args=[creator.handle]), {"amount": "1"}).status_code == 400
    api = client_for(fan)

    # when: five more through the API, then one
    answers = [
        post(api, f"/api/v1/creators/{creator.handle}/tips", {"amount": "1"})[0] for _ in range(5)
    ]
    last = post(api, f"/api/v1/creators/{creator.handle}/tips", {"amount": "150"})

    # then: TIP_RATE is 20 a minute, whichever way they came
    assert answers == [400] * 5
    assert last == (429, {"detail": "Too many tips in a short time; try again in a minute."})
    assert not Tip.objects.exists()
