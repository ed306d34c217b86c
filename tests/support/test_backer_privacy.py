"""Backers are listed as they chose at pledge time: by a name of their own, or as anonymous,
which is the default. The account behind a pledge is never shown: not on the campaign page, not
through the API, not by merging a backer's named and anonymous pledges."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from support import campaigns
from support.backers import Backers, public_backers
from support.models import NAME_MAX, Campaign, Pledge
from tests.fixtures.api_clients import client_for, post
from tests.fixtures.money import btt
from tests.fixtures.personas import make_user
from tests.fixtures.sessions import logged_in
from tests.support.tipping import tipping_creator

pytestmark = pytest.mark.django_db


def campaign_of(creator: Creator, mode: str = "all_or_nothing") -> Campaign:
    tipping_creator(creator)
    return campaigns.create_campaign(
        creator.user,
        title="Album",
        story="Ten songs.",
        goal=btt("1000"),
        deadline=timezone.now() + timedelta(days=3),
        mode=mode,
        tiers=[],
    )


def test_a_pledge_is_anonymous_unless_its_backer_asks_for_a_name(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given
    campaign = campaign_of(creator)

    # when: one backer gives no name, the other asks to be listed as "Ada"
    quiet = campaigns.pledge(fan, campaign, btt("100"), None)
    named = campaigns.pledge(stranger, campaign, btt("200"), None, public_name=" Ada\u200b ")

    # then
    assert (quiet.public_name, quiet.listed_as) == ("", "Anonymous")
    assert (named.public_name, named.listed_as) == ("Ada", "Ada")
    assert public_backers(campaign) == Backers(names=["Ada"], anonymous=1)


def test_a_backers_named_and_anonymous_pledges_stay_apart(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: one fan pledges by name and anonymously; two fans choose the same name
    campaign = campaign_of(creator)
    campaigns.pledge(fan, campaign, btt("100"), None, public_name="Sam")
    campaigns.pledge(fan, campaign, btt("500"), None)
    campaigns.pledge(stranger, campaign, btt("100"), None, public_name="Sam")
    campaigns.pledge(make_user("third"), campaign, btt("100"), None, public_name="ANONYMOUS")

    # then: "Sam" once (it is the name both chose), the anonymous pledges counted apart, and a
    # name that reads "Anonymous" is anonymous
    assert public_backers(campaign) == Backers(names=["Sam"], anonymous=2)


def test_a_name_too_long_is_refused_and_makes_nothing(fan: User, creator: Creator) -> None:
    campaign = campaign_of(creator)

    with pytest.raises(campaigns.CampaignRefused) as refused:
        campaigns.pledge(fan, campaign, btt("100"), None, public_name="n" * 41)

    assert str(refused.value) == "The name is 41 characters; at most 40."

    assert Pledge.objects.count() == 0


def test_the_campaign_page_lists_backers_as_they_chose_and_never_by_account(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: the fan pledges on the page with the defaults; the stranger asks for a name
    campaign = campaign_of(creator)
    page = reverse("campaign", args=[campaign.pk])
    assert logged_in(fan).post(page, {"amount": "100"}).status_code == 302
    chose = {"amount": "150", "listing": "named", "listed_name": "<b>Bo</b>"}
    assert logged_in(stranger).post(page, chose).status_code == 302

    # when
    body = html.unescape(Client().get(page).content.decode())

    # then
    assert '<li class="backer-named"><b>Bo</b></li>' in body
    assert '<li class="backer-anonymous">Anonymous</li>' in body
    assert fan.username not in body
    assert stranger.username not in body
    assert list(Pledge.objects.order_by("pk").values_list("public_name", flat=True)) == [
        "",
        "<b>Bo</b>",
    ]


def test_choosing_a_name_without_one_is_refused_beside_the_field(
    fan: User, creator: Creator
) -> None:
    campaign = campaign_of(creator)

    response = logged_in(fan).post(
        reverse("campaign", args=[campaign.pk]),
        {"amount": "100", "listing": "named", "listed_name": "  "},
    )

    assert response.status_code == 400
    assert "Enter the name to be listed by, or choose Anonymous." in response.content.decode()
    assert Pledge.objects.count() == 0


def test_the_api_takes_the_name_to_be_listed_by(
    fan: User, stranger: User, creator: Creator
) -> None:
    campaign = campaign_of(creator)
    path = f"/api/v1/campaigns/{campaign.pk}/pledges"

    status, quiet = post(client_for(fan), path, {"amount": "100"})
    assert (status, quiet["listed_as"]) == (201, "Anonymous")
    status, named = post(client_for(stranger), path, {"amount": "100", "name": "Ada"})
    assert (status, named["listed_as"]) == (201, "Ada")
    assert public_backers(campaign) == Backers(names=["Ada"], anonymous=1)
    # and anyone reading the campaign gets the list as the page shows it
    read = Client().get(f"/api/v1/campaigns/{campaign.pk}").json()
    assert (read["listed_backers"], read["anonymous_backers"], read["backers"]) == (["Ada"], 1, 2)
    assert fan.username not in str(read)
    assert stranger.username not in str(read)


def test_the_creators_studio_shows_each_pledge_as_its_backer_chose_and_no_more(
    creator: Creator,
) -> None:
    # given: two backers with telling account names, one named and one not
    campaign = campaign_of(creator)
    quiet = make_user("quiet-account")
    named = make_user("named-account")
    campaigns.pledge(quiet, campaign, btt("120"), None)
    campaigns.pledge(named, campaign, btt("80"), None, public_name="Ada")

    # when: the creator opens their campaigns in the studio
    body = html.unescape(logged_in(creator.user).get(reverse("studio-campaigns")).content.decode())

    # then: Ada and Anonymous with what they pledged; neither account
    assert '<td>Ada</td><td class="numeric">80 BTT</td>' in body
    assert '<td>Anonymous</td><td class="numeric">120 BTT</td>' in body
    assert "quiet-account" not in body
    assert "named-account" not in body


def test_the_name_fields_maxlength_is_the_limit_the_server_keeps(
    fan: User, creator: Creator
) -> None:
    campaign = campaign_of(creator)

    page = logged_in(fan).get(reverse("campaign", args=[campaign.pk])).content.decode()

    (field,) = re.findall(r"<input[^>]*name=\"listed_name\"[^>]*>", page)
    assert re.search(r'maxlength="(\d+)"', field)[1] == str(NAME_MAX) == "40"  # type: ignore[index]
