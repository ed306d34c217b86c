"""axe-core over every page of the journeys, at phone and desktop width: no serious or critical
violation anywhere, and (the browser fixture's teardown) no console error on any of them.

One world of data serves every page: a creator with a free and a paid content, a rentable film,
a tier, a campaign and tip settings; a fan with an open invoice of every kind, a bought content
staff took down (so a refund request page), a membership and a pledge; staff with every role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize

from accounts.models import User
from creators.models import Creator
from memberships import services as memberships
from payments.money import Amount, Token
from purchases import rentals
from purchases import services as purchases
from support import campaigns
from support import services as support
from support.models import Campaign
from swarm.models import Content
from tests.fixtures.accessibility import audit, describe
from tests.fixtures.browser import Chromium
from tests.fixtures.content import Site
from tests.fixtures.rentals import RENT, settle
from tests.payments.factories import paid_content, with_wallet

pytestmark = pytest.mark.django_db(transaction=True)

SIZES: dict[str, ViewportSize] = {
    "phone": {"width": 360, "height": 800},
    "desktop": {"width": 1280, "height": 800},
}


@dataclass
class World:
    creator: Creator
    fan: User
    staff: User
    public: list[str]
    fan_pages: list[str]
    studio: list[str]
    console: list[str]


def seeding(creator: Creator, title: str, access: str, infohash: str) -> Content:
    content = Content.objects.create(
        creator=creator, title=title, name=f"{title.lower()}.flac", access=access,
        state=Content.State.SEEDING, infohash=infohash,
    )  # fmt: skip
    return content


@pytest.fixture
def world(site: Site, creator: Creator, fan: User, superuser: User) -> World:
    with_wallet(creator)
    free = seeding(creator, "Demo", Content.Access.FREE, "a" * 40)
    album = paid_content(creator, "Album")
    film = paid_content(creator, "Film")
    rentals.set_rental_terms(creator.user, film, RENT, window_hours=48, start_within_days=30)
    gone = paid_content(creator, "Gone")
    bought = settle(purchases.create_purchase_invoice(fan, gone)[0])
    Content.objects.filter(pk=gone.pk).update(state=Content.State.REMOVED)
    tier = memberships.save_tier(creator, name="Supporter", monthly=Amount.parse("10", Token.BTT))
    campaign = campaigns.create_campaign(
        creator.user, title="Next album", story="Ten songs.",
        goal=Amount.parse("1000", Token.BTT), deadline=timezone.now() + timedelta(days=3),
        mode=Campaign.Mode.FLEXIBLE, tiers=[],
    )  # fmt: skip
    overlay = support.tip_settings(creator).overlay_key
    purchase, _ = purchases.create_purchase_invoice(fan, album)
    rental, _ = rentals.create_rental_invoice(fan, film)
    tip = support.create_tip(fan, creator, Amount.parse("150", Token.BTT), name="A fan")
    pledge = campaigns.pledge(fan, campaign, Amount.parse("100", Token.BTT), None)
    _, dues = memberships.join(fan, tier)
    assert bought.state == bought.State.SETTLED
    return World(
        creator=creator,
        fan=fan,
        staff=superuser,
        public=[
            "/",
            "/c/maker/",
            f"/content/{free.pk}/",
            f"/content/{album.pk}/",
            f"/campaigns/{campaign.pk}/",
            "/c/maker/live/",
            f"/overlay/{overlay}/",
            "/accounts/login/",
            "/signup/",
            "/accounts/password_reset/",
        ],
        fan_pages=[
            "/library/",
            f"/content/{album.pk}/",
            f"/content/{album.pk}/buy/",
            f"/content/{film.pk}/rent/",
            f"/invoices/{purchase.pk}/",
            f"/invoices/{rental.pk}/",
            f"/tips/{tip.pk}/",
            f"/invoices/{tip.invoice_id}/",
            f"/pledges/{pledge.pk}/",
            f"/invoices/{pledge.invoice_id}/",
            f"/invoices/{dues.pk}/",
            "/pledges/",
            "/memberships/",
            "/settings/passkey/",
            "/settings/wallets/",
            "/settings/tokens/",
            f"/library/{gone.pk}/refund/",
        ],
        studio=[
            "/studio/",
            "/studio/content/",
            "/studio/content/new/",
            f"/studio/content/{album.pk}/",
            f"/studio/content/{album.pk}/upload/",
            "/studio/sales/",
            "/studio/tiers/",
            "/studio/campaigns/",
            "/studio/webhooks/",
            "/studio/refunds/",
            "/studio/live/",
            "/studio/tips/",
            "/settings/profile/",
        ],
        console=[
            "/staff/",
            "/staff/moderation/",
            "/staff/health/",
            "/staff/reconciliation/",
            "/staff/audit/",
        ],
    )


def violations_on(page: Page, paths: list[str], size: ViewportSize) -> dict[str, list[str]]:
    """Each path's serious and critical violations at ``size``; paths without any left out."""
    page.set_viewport_size(size)
    found: dict[str, list[str]] = {}
    for path in paths:
        response = page.goto(path)
        assert response is not None, path
        assert response.status == 200, f"{path}: {response.status}"
        page.wait_for_load_state("networkidle")
        problems = [describe(violation) for violation in audit(page)]
        if problems:
            found[path] = problems
    return found


@pytest.mark.parametrize("size", SIZES)
def test_public_pages_have_no_serious_violations(
    browser: Chromium, world: World, site: Site, size: str
) -> None:
    page = browser.open(site.url)
    assert violations_on(page, world.public, SIZES[size]) == {}


@pytest.mark.parametrize("size", SIZES)
def test_a_fans_pages_have_no_serious_violations(
    browser: Chromium, world: World, site: Site, size: str
) -> None:
    page = browser.open(site.url, world.fan)
    assert violations_on(page, world.fan_pages, SIZES[size]) == {}


@pytest.mark.parametrize("size", SIZES)
def test_the_studio_has_no_serious_violations(
    browser: Chromium, world: World, site: Site, size: str
) -> None:
    page = browser.open(site.url, world.creator.user)
    assert violations_on(page, world.studio, SIZES[size]) == {}


@pytest.mark.parametrize("size", SIZES)
def test_the_staff_console_has_no_serious_violations(
    browser: Chromium, world: World, site: Site, size: str
) -> None:
    page = browser.open(site.url, world.staff)
    assert violations_on(page, world.console, SIZES[size]) == {}
