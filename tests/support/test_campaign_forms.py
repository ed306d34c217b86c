"""The campaign forms over HTTP: the studio's page has one element per id and every
description it points to, the deadline is read in the creator's own time zone, a refused
pledge keeps the chosen reward, and counts agree with their nouns."""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from payments.crediting import record_transfer
from payments.money import Amount, Token
from support import campaigns
from support.models import Campaign, Pledge
from tests.fixtures.html_elements import Elements
from tests.fixtures.sessions import logged_in
from tests.payments.factories import paying, proven
from tests.support.tipping import tipping_creator

pytestmark = pytest.mark.django_db


def new_campaign(creator: Creator, title: str) -> Campaign:
    tipping_creator(creator)
    made = campaigns.create_campaign(
        creator.user,
        title=title,
        story="Ten songs.",
        goal=Amount.parse("1000", Token.BTT),
        deadline=timezone.now() + timedelta(days=3),
        mode=Campaign.Mode.FLEXIBLE,
        tiers=[],
    )
    return made


def assert_ids_sound(body: str) -> None:
    page = Elements(body)
    ids = Counter(attrs["id"] for _tag, attrs in page.found if "id" in attrs)
    assert [name for name, count in ids.items() if count > 1] == []
    for _tag, attrs in page.found:
        for described in attrs.get("aria-describedby", "").split():
            assert described in ids, f"aria-describedby={described!r} names nothing"


def test_the_studios_campaigns_page_has_unique_ids_and_linked_help(creator: Creator) -> None:
    # given: two campaigns, each with its update form, beside the new campaign's form
    new_campaign(creator, "Album")
    new_campaign(creator, "Tour")

    # when
    body = logged_in(creator.user).get(reverse("studio-campaigns")).content.decode()

    # then
    assert_ids_sound(body)
    page = Elements(body)
    assert page.named("deadline")["aria-describedby"] == "id_deadline_helptext"
    assert page.texts["id_deadline_helptext"] == "Time zone: UTC."
    assert page.named("time_zone")["data-time-zone-for"] == "id_deadline"


@pytest.mark.parametrize(
    "path", ["signup", "login", "studio-tips", "studio-live", "creator-profile", "tokens"]
)
def test_other_forms_have_unique_ids_and_linked_help(creator: Creator, path: str) -> None:
    client = logged_in(creator.user) if path not in ("signup", "login") else Client()
    response = client.get(reverse(path))
    assert response.status_code == 200
    assert_ids_sound(response.content.decode())


DAY = (timezone.now() + timedelta(days=30)).date()


def deadline_posted(creator: Creator, **extra: str) -> datetime | str:
    tipping_creator(creator)
    data = {
        "title": "Album",
        "story": "Ten songs.",
        "goal": "1000",
        "deadline": f"{DAY.isoformat()}T18:00",
        "mode": "flexible",
        "tiers": "",
        **extra,
    }
    response = logged_in(creator.user).post(reverse("studio-campaigns"), data)
    if response.status_code != 302:
        return html.unescape(response.content.decode())
    return Campaign.objects.get().deadline


def test_the_deadline_is_read_in_the_creators_time_zone(creator: Creator) -> None:
    deadline = deadline_posted(creator, time_zone="Asia/Tokyo")
    # Tokyo keeps no summer time: 18:00 there is 09:00 UTC all year.
    assert deadline == datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=UTC)


def test_without_a_time_zone_the_deadline_is_utc(creator: Creator) -> None:
    assert deadline_posted(creator) == datetime(DAY.year, DAY.month, DAY.day, 18, 0, tzinfo=UTC)


def test_an_unknown_time_zone_is_refused_and_nothing_is_made(creator: Creator) -> None:
    page = deadline_posted(creator, time_zone="Mars/Olympus")
    assert isinstance(page, str)
    assert "Unknown time zone; reload the page." in page
    assert not Campaign.objects.exists()


def test_a_refused_pledge_keeps_the_chosen_reward(fan: User, creator: Creator) -> None:
    # given: a campaign with two rewards
    tipping_creator(creator)
    deadline = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    logged_in(creator.user).post(
        reverse("studio-campaigns"),
        {
            "title": "Album",
            "story": "Songs.",
            "goal": "1000",
            "deadline": deadline,
            "mode": "flexible",
            "tiers": "Signed CD | 100 | 5\nThanks | 10 |",
        },
    )
    campaign = Campaign.objects.get()
    cd = campaign.tiers.get(title="Signed CD")

    # when: the fan picks the CD with too little
    response = logged_in(fan).post(
        reverse("campaign", args=[campaign.pk]), {"amount": "50", "tier": str(cd.pk)}
    )

    # then: refused, and the CD is still the one chosen
    assert response.status_code == 400
    assert "This reward needs at least 100 BTT." in html.unescape(response.content.decode())
    page = Elements(response.content.decode())
    radios = {a["value"]: "checked" in a for _t, a in page.found if a.get("name") == "tier"}
    thanks = campaign.tiers.get(title="Thanks")
    assert radios == {"": False, str(cd.pk): True, str(thanks.pk): False}
    assert not Pledge.objects.exists()
    # and a fresh page chooses "No reward"
    fresh = Elements(logged_in(fan).get(reverse("campaign", args=[campaign.pk])).content.decode())
    assert [("checked" in a) for t, a in fresh.found if a.get("name") == "tier"] == [
        True,
        False,
        False,
    ]


def test_one_backer_is_one_backer(fan: User, creator: Creator) -> None:
    campaign = new_campaign(creator, "Album")
    made = campaigns.pledge(fan, campaign, Amount.parse("250", Token.BTT), None)
    assert made.invoice is not None
    record_transfer(
        proven(*paying(made.invoice, recipient=made.invoice.recipient, seq=3)), solidified=False
    )
    body = Client().get(reverse("campaign", args=[campaign.pk])).content.decode()
    assert "<span data-backers>1</span> <span data-backers-word>backer</span>" in body
    studio = logged_in(creator.user).get(reverse("studio-campaigns")).content.decode()
    assert "from 1 backer (" in studio
