"""Paying from a phone with no digit typed, in Chromium at 360 x 800: the fan copies the amount
and the address from the payment block (the clipboard read back), a wallet sends exactly the
copied text on the devnet, and the real chain watcher settles the invoice on the same page. The
same page at desktop size, and the copy buttons where the Clipboard API is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from accounts.models import User
from creators.models import Creator
from payments.models import Invoice
from payments.money import Amount, Token
from purchases import services as purchases
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.content import Site
from tests.fixtures.devnet import Devnet, funded_wallet
from tests.fixtures.sales import on_sale
from tests.payments.watching import send_btt, start_watcher_process

pytestmark = pytest.mark.django_db(transaction=True)

BTT = 10**18
PHONE: ViewportSize = {"width": 360, "height": 800}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def assert_fits(page: Page, width: int) -> None:
    """Nothing sideways: the page, the address and the amount fit, shown whole, and the copy
    buttons lie inside the screen's width."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in ("[data-pay-address]", "[data-amount]"):
        field = page.locator(f"[data-pay-instruction] {selector}")
        assert field.evaluate("e => e.scrollWidth <= e.clientWidth"), selector
        box = field.bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= width, selector
    for name in ("Copy amount", "Copy address"):
        button = page.get_by_role("button", name=name)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= width, name
        assert box["height"] >= 44, f"{name} is a small target on a phone"


def test_a_fan_on_a_phone_copies_the_amount_pays_exactly_that_and_watches_it_settle(
    site: Site,
    node_and_worker: Devnet,
    browser: Chromium,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: an album at 12.5 BTT, the fan's invoice for it, the watcher following the chain
    devnet = node_and_worker
    content = on_sale(creator, {"a.bin": b"p" * 1000}, "Phone", "12.5")
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    wallet = funded_wallet(devnet, trx=100_000_000, trc20=20 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    try:
        page = browser.open(site.url, fan)
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
        page.set_viewport_size(PHONE)
        page.goto(f"/invoices/{invoice.pk}/")
        expect(page.locator("[data-invoice]")).to_have_attribute("data-live", "live")
        assert_fits(page, PHONE["width"])

        # when: the fan taps Copy amount, then Copy address
        page.get_by_role("button", name="Copy amount").click()

        # then: the page says so, and the clipboard holds the exact tagged amount
        said = page.locator("[data-copy-status]")
        expect(said).to_have_text("Amount copied: 12.500001")
        amount_text = page.evaluate("navigator.clipboard.readText()")
        assert amount_text == "12.500001"
        page.get_by_role("button", name="Copy address").click()
        expect(said).to_have_text(f"Address copied: {creator.payout_address}")
        address_text = page.evaluate("navigator.clipboard.readText()")
        assert address_text == creator.payout_address
        screenshots(page, "pay-from-phone")
        page.set_viewport_size(PHONE)

        # when: the fan's wallet sends exactly the pasted text to the pasted address
        send_btt(devnet, wallet, address_text, Amount.parse(amount_text, Token.BTT).units)

        # then: the invoice settles on this page, no reload
        status = page.locator("[data-status]")
        expect(status).to_have_text("Paid and confirmed.", timeout=120_000)
        expect(page.get_by_role("link", name="Download it now")).to_be_visible()
        expect(page.locator("[data-near-misses]")).to_be_hidden()
        assert_page_clean(page)
        with outside_browser_loop():
            invoice.refresh_from_db()
            assert (invoice.state, invoice.payer_address) == ("settled", wallet.address)
            assert invoice.amount_paid == invoice.amount_due == 12_500_001 * 10**12
    finally:
        watcher.stop()


def test_the_payment_block_at_desktop_size(
    site: Site, browser: Chromium, creator: Creator, fan: User
) -> None:
    # given
    content = on_sale(creator, {"a.bin": b"d" * 1000}, "Desk", "12.5")
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    page = browser.open(site.url, fan)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page.set_viewport_size(DESKTOP)

    # when
    page.goto(f"/invoices/{invoice.pk}/")
    page.get_by_role("button", name="Copy amount").click()

    # then: the same block, the code to scan beside what to copy, nothing clipped
    expect(page.locator("[data-copy-status]")).to_have_text("Amount copied: 12.500001")
    assert page.evaluate("navigator.clipboard.readText()") == "12.500001"
    assert_fits(page, DESKTOP["width"])
    code = page.locator("[data-pay-instruction] .pay-qr svg.qr-code").first.bounding_box()
    amount = page.locator("[data-pay-instruction] [data-amount]").bounding_box()
    assert code is not None
    assert amount is not None
    assert code["x"] > amount["x"] + amount["width"], "the QR code sits to the right"
    links = page.locator("[data-wallet-link]")
    expect(links).to_have_count(3)
    assert (links.nth(0).get_attribute("href") or "").startswith("tronlinkoutside://pull.activity")
    uri = f"tron:{creator.payout_address}?amount=12.500001"
    assert (links.nth(2).get_attribute("href") or "").startswith(uri)
    assert_page_clean(page)


def test_without_the_clipboard_api_the_amount_is_selected_for_a_long_press(
    site: Site, browser: Chromium, creator: Creator, fan: User
) -> None:
    # given: a browser without navigator.clipboard (plain http on a LAN address, old browsers)
    content = on_sale(creator, {"a.bin": b"n" * 1000}, "Old", "12.5")
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    page = browser.open(site.url, fan)
    page.context.add_init_script(
        "Object.defineProperty(navigator, 'clipboard', {value: undefined})"
    )
    page.set_viewport_size(PHONE)
    page.goto(f"/invoices/{invoice.pk}/")

    # when
    page.get_by_role("button", name="Copy amount").click()

    # then: the amount is selected, and the page says it was copied (the old copy command
    # worked) or how to copy it by hand; never nothing
    said = page.locator("[data-copy-status]")
    expect(said).to_have_text(
        re.compile(
            r"^(Amount copied: 12\.500001"
            r"|Selected 12\.500001: press and hold it \(or Ctrl\+C\) to copy\.)$"
        )
    )
    assert page.evaluate("window.getSelection().toString()") == "12.500001"
    assert_page_clean(page)
    with outside_browser_loop():
        assert Invoice.objects.get(pk=invoice.pk).state == "new"
