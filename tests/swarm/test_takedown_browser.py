"""A takedown as the buyer and the creator see it in Chromium, on a phone (360x800) and on a
desktop: the download page left open says the takedown and its reason, the library keeps the
purchase marked with the reason and the date, the fan asks for a refund, and the creator finds
the request in the studio with the amount paid and the address to send it to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import dateformat, timezone
from playwright.sync_api import Page, ViewportSize, expect

from accounts.models import User, VerifiedWallet
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from payments import crediting
from payments.models import Invoice
from payments.money import Amount, Token
from purchases import services as purchases
from swarm import services
from swarm.models import Content
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.content import Site
from tests.payments.factories import FAN_ADDRESS, paying, proven, with_wallet

# Each page the journey leaves open is put through axe at the end (tests/fixtures/browser.py).
pytestmark = pytest.mark.audit_pages

Publish = Callable[..., Content]
REASON = "Counterfeit release reported by the label"
HANG_GUARD_MS = 60_000
SIZES: dict[str, ViewportSize] = {
    "phone": {"width": 360, "height": 800},
    "desktop": {"width": 1280, "height": 800},
}


def bought(publish: Publish, creator: Creator, fan: User) -> tuple[Content, Invoice]:
    """A paid release the fan paid for (settled) from a wallet they verified."""
    with_wallet(creator)
    content = publish(creator, {"live.bin": b"l" * 90_000}, title="Live at Home", access="paid")
    purchases.set_content_price(creator.user, content, Amount.parse("25", Token.BTT))
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    crediting.record_transfer(
        proven(*paying(invoice, sender=FAN_ADDRESS, recipient=invoice.recipient)),
        solidified=True,
    )
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    VerifiedWallet.objects.create(user=fan, address=FAN_ADDRESS, verified_at=timezone.now())
    return content, invoice


def fits(page: Page) -> None:
    """Nothing makes the page scroll sideways."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_buyer_is_told_of_the_takedown_asks_a_refund_and_the_creator_sees_it(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    moderator: User,
    size: str,
) -> None:
    browser.allow_console_error(r"status of 410 .*/torrent\)$", "the takedown answers 410")
    # given: the fan's download page is open
    content, invoice = bought(publish, creator, fan)
    page = browser.open(site.url, fan)
    page.set_viewport_size(SIZES[size])
    page.goto(f"/content/{content.pk}/")
    panel = page.locator("[data-webseed-download]")
    expect(panel.get_by_role("button", name="Download")).to_be_visible()

    # when: staff take it down, and the fan presses Download on the page left open
    with outside_browser_loop():
        services.take_down_content(moderator, content.pk, REASON)
        content.refresh_from_db()
        assert content.removed_at is not None
        removed_on = dateformat.format(timezone.localtime(content.removed_at), "j F Y")
    panel.get_by_role("button", name="Download").click()

    # then: the takedown and its reason, in plain words; nothing to try again
    expect(panel).to_have_attribute("data-state", "removed")
    expect(panel.get_by_role("status")).to_have_text(
        "This content was removed by the platform's moderators and can no longer be "
        f"downloaded. Reason: {REASON}"
    )
    expect(panel.get_by_role("button", name="Try again")).to_have_count(0)
    fits(page)

    # when: the fan opens their library
    page.goto("/library/")

    # then: the purchase is there, marked, with the reason and the date
    item = page.locator(f'[data-removed-content="{content.pk}"]')
    expect(item.get_by_role("heading", name="Live at Home")).to_be_visible()
    expect(item).to_contain_text("Removed by moderators")
    expect(item.locator("[data-removed-reason]")).to_have_text(f"Reason: {REASON}")
    expect(item.locator("time")).to_have_text(removed_on)
    expect(page.get_by_role("heading", name="Nothing here yet")).to_have_count(0)
    fits(page)

    # when: the fan asks the creator for a refund
    item.get_by_role("link", name="Ask the creator for a refund").click()
    expect(page.get_by_role("heading", name="Refund for “Live at Home”")).to_be_visible()
    expect(page.locator("[data-refund-amount]")).to_have_text(str(invoice.paid))
    expect(page.get_by_label("Send the refund to")).to_have_value(FAN_ADDRESS)
    page.get_by_label("A note for the creator").fill("The download never finished.")
    fits(page)
    page.get_by_role("button", name="Ask the creator for a refund").click()

    # then: asked; the library says so
    expect(page.locator('[data-refund-state="open"]')).to_contain_text("You asked for a refund")
    page.goto("/library/")
    expect(item.locator('[data-refund-state="open"]')).to_be_visible()
    assert_page_clean(page)
    if size == "phone":
        screenshots(page, "library-removed")

    # when: the creator opens the studio's refund requests
    studio = browser.open(site.url, creator.user)
    studio.set_viewport_size(SIZES[size])
    studio.goto("/studio/")
    studio.get_by_role("navigation", name="Studio").get_by_role("link", name="Refunds").click()

    # then: the request, with the amount paid and the fan's verified wallet
    row = studio.locator("[data-refund-request]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", "open")
    expect(row.get_by_role("heading")).to_have_text(f"“Live at Home” · {fan.username}")
    expect(row.locator("[data-refund-amount]")).to_have_text(str(invoice.paid))
    expect(row.locator("[data-refund-address]")).to_have_text(FAN_ADDRESS)
    expect(row).to_contain_text("a wallet the fan verified")
    expect(row).to_contain_text("The download never finished.")
    expect(row.get_by_label("Transaction id of your refund")).to_be_editable()
    fits(studio)
    assert_page_clean(studio)
    if size == "phone":
        screenshots(studio, "studio-refunds")


def test_a_download_in_progress_stops_with_the_takedown_and_its_reason(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    moderator: User,
    settings: Any,
) -> None:
    # The takedown cuts the web seed's responses short and answers 410 to the next requests.
    browser.allow_console_error(r"ERR_CONTENT_LENGTH_MISMATCH .*/long\.bin\)$", "cut short")
    browser.allow_console_error(r"status of 410 .*(/long\.bin|/torrent)\)$", "taken down")
    # given: a slow web seed (64 KiB/s per response), so the download is far from done when
    # the takedown lands
    settings.WEBSEED_RATE_LIMIT = 64 * 1024
    content = publish(creator, {"long.bin": b"x" * (6 * 1024 * 1024)}, title="Long", access="paid")
    ledger.grant(fan, content, Grant.Source.PURCHASE, "invoice-long")
    page = browser.open(site.url, fan)
    page.set_viewport_size(SIZES["phone"])
    page.goto(f"/content/{content.pk}/")
    panel = page.locator("[data-webseed-download]")
    panel.get_by_role("button", name="Download").click()
    expect(panel.locator("[data-download-figures]")).to_contain_text("left")

    # when: staff take it down mid-download
    with outside_browser_loop():
        services.take_down_content(moderator, content.pk, REASON)

    # then: the web seed's 410 (which carries no reason) ends the download, and the panel asks
    # the API why and says it; a hang guard only, the web seed re-checks every 2 s
    expect(panel).to_have_attribute("data-state", "removed", timeout=HANG_GUARD_MS)
    expect(panel.get_by_role("status")).to_have_text(
        "This content was removed by the platform's moderators and can no longer be "
        f"downloaded. Reason: {REASON}"
    )
    expect(panel.get_by_role("button", name="Pause")).to_be_hidden()
    fits(page)
    assert_page_clean(page)
