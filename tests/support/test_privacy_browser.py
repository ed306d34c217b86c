"""Privacy and prices in Chromium, on a 360x800 phone and a desktop: an anonymous tip shows as
Anonymous on the live page and the overlay and stays out of its fan's named row; the live feed,
the overlay and the goal show the tip as asked, never the unique-amount tag that paid it; the
campaign page lists a backer who chose nothing as Anonymous and one who chose a name by it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from accounts.models import User
from creators.models import Creator
from support import campaigns, services
from tests.fixtures.browser import (
    Chromium,
    assert_page_clean,
    log_in,
    outside_browser_loop,
    screenshots,
)
from tests.fixtures.money import btt
from tests.fixtures.servers import AsgiServer
from tests.support.tipping import pay, tip, tipping_creator, with_goal

pytestmark = pytest.mark.django_db(transaction=True)

SIZES: dict[str, ViewportSize] = {
    "phone": {"width": 360, "height": 800},
    "desktop": {"width": 1280, "height": 800},
}


def sized(page: Page, size: str) -> Page:
    page.set_viewport_size(SIZES[size])
    return page


def assert_fits(page: Page, size: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], f"{page.url} is {width}px wide on a {size}"


@pytest.mark.parametrize("size", SIZES)
def test_an_anonymous_tip_is_anonymous_on_the_live_page_and_overlay_and_shows_no_tag(
    size: str, browser: Chromium, asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    # given: a creator live with a goal; one fan tips once as "Ada", once anonymously; the
    # overlay and the live page are open
    tipping_creator(creator)
    with_goal(creator, "1000", minimum="100")
    services.start_live(creator.user, "Late show", "https://www.youtube-nocookie.com/embed/x")
    named = tip(fan, creator, btt("150"), name="Ada")
    anonymous = tip(fan, creator, btt("250"), message="no names please")
    tagged = [made.invoice.due.decimal_string() for made in (named, anonymous)]
    assert tagged == ["150.000001", "250.000001"]  # what the wallets send
    key = services.tip_settings(creator).overlay_key
    overlay = sized(browser.open(asgi_server.url), size)
    overlay.goto(f"/overlay/{key}/")
    expect(overlay.locator("body")).to_have_attribute("data-socket", "live")
    overlay.evaluate("document.body.dataset.alertMs = '200'")
    live = sized(browser.open(asgi_server.url), size)
    live.goto(f"/c/{creator.handle}/live/")
    expect(live.locator("[data-live-socket]")).to_have_attribute("data-socket", "live")

    # when: both are paid, to the tagged amounts
    with outside_browser_loop():
        pay(named)
        pay(anonymous)

    # then: the live feed names Ada and Anonymous apart, each with the tip as asked
    items = live.locator("[data-tip-feed] > li")
    expect(items).to_have_count(2)
    expect(items.nth(0).locator(".tip-name")).to_have_text("Anonymous")
    expect(items.nth(0).locator(".tip-amount")).to_have_text("250 BTT")
    expect(items.nth(1).locator(".tip-name")).to_have_text("Ada")
    expect(items.nth(1).locator(".tip-amount")).to_have_text("150 BTT")
    expect(live.locator("[data-goal-raised]")).to_have_text("400")
    # and so does the overlay, the last alert being the anonymous one
    expect(overlay.locator("body")).to_have_attribute("data-shown", "1,2")
    expect(overlay.locator("[data-alert-name]")).to_have_text("Anonymous")
    expect(overlay.locator("[data-alert-amount]")).to_have_text("250 BTT")
    expect(overlay.locator("[data-goal-raised]")).to_have_text("400")
    for page in (live, overlay):
        text = page.locator("body").inner_text()
        assert all(amount not in text for amount in tagged)
        assert fan.username not in text
        assert_fits(page, size)

    # when: the session ends and the page is read again
    with outside_browser_loop():
        services.end_live(creator.user)
    live.reload()

    # then: the top tippers keep the anonymous tip out of Ada's row, with no tag in any figure
    summary = live.locator(".live-summary")
    expect(summary.locator(".summary-figures")).to_have_text("400 BTT from 2 tips.")
    expect(summary.locator(".top-tippers > li")).to_have_text(
        ["Anonymous: 250 BTT (1 tip)", "Ada: 150 BTT (1 tip)"]
    )
    text = live.locator("body").inner_text()
    assert all(amount not in text for amount in tagged)
    assert fan.username not in text
    assert_fits(live, size)
    assert_page_clean(live)
    assert_page_clean(overlay)


@pytest.mark.parametrize("size", SIZES)
def test_the_campaign_page_lists_the_default_backer_as_anonymous_and_a_named_one_by_name(
    size: str, browser: Chromium, asgi_server: AsgiServer, fan: User, stranger: User,
    creator: Creator,
) -> None:  # fmt: skip
    # given: an all-or-nothing campaign (pledging pays nothing yet)
    tipping_creator(creator)
    campaign = campaigns.create_campaign(
        creator.user,
        title="Album",
        story="Ten songs.",
        goal=btt("1000"),
        deadline=timezone.now() + timedelta(days=3),
        mode="all_or_nothing",
        tiers=[],
    )
    path = f"/campaigns/{campaign.pk}/"

    # when: the fan pledges leaving the list choice as it is
    quiet = sized(browser.open(asgi_server.url, fan), size)
    quiet.goto(path)
    expect(quiet.get_by_label("List me as Anonymous")).to_be_checked()
    quiet.get_by_label("Amount (BTT)").fill("100")
    quiet.get_by_role("button", name="Pledge").click()
    quiet.wait_for_url("**/pledges/*/")
    # and the stranger asks to be listed as "Bo <3"
    named = sized(browser.open(asgi_server.url, stranger), size)
    named.goto(path)
    named.get_by_label("Amount (BTT)").fill("150")
    named.get_by_label("List me by this name:").check()
    named.get_by_label("Name to be listed by").fill("Bo <3")
    named.get_by_role("button", name="Pledge").click()
    named.wait_for_url("**/pledges/*/")

    # then: anyone reading the page sees Bo and one Anonymous backer, and no account
    page = sized(browser.open(asgi_server.url), size)
    page.goto(path)
    expect(page.locator("[data-backers-list] > li")).to_have_text(["Bo <3", "Anonymous"])
    expect(page.locator("[data-raised]")).to_have_text("250")
    text = page.locator("body").inner_text()
    assert fan.username not in text
    assert stranger.username not in text
    assert_fits(page, size)
    if size == "phone":  # once: the helper takes both sizes
        named.goto(path)  # the form, as a signed-in fan sees it
        screenshots(named, "campaign-backer-choice")
        screenshots(page, "campaign-backers")
    for opened in (quiet, named, page):
        assert_page_clean(opened)


def test_choosing_a_name_and_leaving_it_empty_is_refused_beside_the_field(
    browser: Chromium, asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    browser.allow_console_error(r"status of 400 .*/campaigns/\d+/\)$", "the form is refused")
    tipping_creator(creator)
    campaign = campaigns.create_campaign(
        creator.user,
        title="Album",
        story="Ten songs.",
        goal=btt("1000"),
        deadline=timezone.now() + timedelta(days=3),
        mode="all_or_nothing",
        tiers=[],
    )
    page = sized(browser.open(asgi_server.url), "phone")
    log_in(page.context, fan, asgi_server.url)
    page.goto(f"/campaigns/{campaign.pk}/")

    page.get_by_label("Amount (BTT)").fill("100")
    page.get_by_label("List me by this name:").check()
    page.get_by_role("button", name="Pledge").click()

    expect(page.get_by_role("alert")).to_have_text(
        "Enter the name to be listed by, or choose Anonymous."
    )
    expect(page.get_by_label("List me by this name:")).to_be_checked()
    assert_fits(page, "phone")
    assert_page_clean(page)
