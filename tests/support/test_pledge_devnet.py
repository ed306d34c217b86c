"""A pledge's page in Chromium while its invoice moves: paid on the devnet with unmodified
tronpy and found by a real ``manage.py watch_chain`` process (in a block, then final), and two
more pledges that lapse (expired unpaid; paid, then the payment left the chain). Each state
is said in a pledge's words, never a tip's, with no script error on the way."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Page, expect

from accounts.models import User
from creators.models import Creator
from payments.crediting import drop_transfer, record_transfer
from payments.invoices import expire_invoices
from payments.models import Invoice
from payments.money import Amount, Token
from support import campaigns
from support.models import Campaign, Pledge
from support.views import PLEDGE_WORDS
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.devnet import Devnet, funded_wallet
from tests.fixtures.servers import AsgiServer
from tests.payments.factories import paying, proven
from tests.payments.watching import (
    creator_with_own_wallet,
    send_btt,
    start_watcher_process,
    wait_following,
)

pytestmark = pytest.mark.django_db(transaction=True)

SOLIDIFY = 3
BTT = 10**18
ON_DEMAND = {"TRON_DEVNET_BLOCK_SECONDS": "3600", "TRON_DEVNET_SOLIDIFY_BLOCKS": str(SOLIDIFY)}


def flexible_campaign(creator: Creator) -> Campaign:
    return campaigns.create_campaign(
        creator.user,
        title="New album",
        story="Ten songs.",
        goal=Amount.parse("1000", Token.BTT),
        deadline=timezone.now() + timedelta(days=3),
        mode=Campaign.Mode.FLEXIBLE,
        tiers=[campaigns.TierSpec("Signed CD", Amount.parse("100", Token.BTT), 5)],
    )


def console_errors(page: Page) -> list[str]:
    """Every console error on ``page`` from now on (assert_page_clean keeps CSP ones only)."""
    errors: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", heard)
    return errors


def open_pledge(page: Page, pledge: Pledge) -> None:
    page.goto(f"/pledges/{pledge.pk}/")
    expect(page.locator("[data-pledge]")).to_have_attribute("data-socket", "live")


def test_a_pledge_paid_on_the_devnet_says_each_state_in_a_pledges_words(
    devnet_factory: Any,
    browser: Chromium,
    asgi_server: AsgiServer,
    fan: User,
    creator: Creator,
    tmp_path: Path,
) -> None:
    # given: a flexible campaign, three pledges by the fan, a funded wallet, the watcher
    devnet: Devnet = devnet_factory(**ON_DEMAND)
    creator_with_own_wallet(creator)
    campaign = flexible_campaign(creator)
    tier = campaign.tiers.get()
    paid, expiring, dropped = (
        campaigns.pledge(fan, campaign, Amount.parse(amount, Token.BTT), tier)
        for amount in ("150", "120", "110")
    )
    assert paid.invoice is not None
    assert expiring.invoice is not None
    assert dropped.invoice is not None
    payer = funded_wallet(devnet, trx=100_000_000, trc20=500 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    wait_following(devnet)
    page = browser.open(asgi_server.url, fan)
    errors = console_errors(page)
    status = page.locator("[data-pledge-status]")
    way_to_pay = page.locator("[data-pledge-pay]")
    try:
        open_pledge(page, paid)
        expect(status).to_have_text(PLEDGE_WORDS["new"])
        expect(status).to_have_text("Waiting for your payment…")
        expect(way_to_pay).to_be_visible()

        # when: the fan's wallet pays it and one block is made
        with outside_browser_loop():
            send_btt(devnet, payer, paid.invoice.recipient, paid.invoice.amount_due)
            devnet.mine()

        # then: paid, in a block; the way to pay is gone, and nothing speaks of a tip
        expect(status).to_have_text(
            "Paid: your pledge is in a block. It becomes final in about a minute.",
            timeout=60_000,
        )
        expect(way_to_pay).to_be_hidden()
        assert "tip" not in page.locator("main").inner_text().lower()

        # when: the block solidifies
        with outside_browser_loop():
            for _ in range(SOLIDIFY + 1):
                devnet.mine()

        # then: final, and the page says thank you; opened again it says the same
        expect(status).to_have_text(
            "Paid and final. Thank you for backing this campaign!", timeout=60_000
        )
        expect(page.locator("[data-pledge]")).to_have_attribute("data-state", "settled")
        page.reload()
        expect(status).to_have_text("Paid and final. Thank you for backing this campaign!")
        expect(way_to_pay).to_have_count(0)
        screenshots(page, "pledge-paid")

        # when: the second pledge's invoice expires unpaid, its page open
        open_pledge(page, expiring)
        with outside_browser_loop():
            past = timezone.now() - timedelta(seconds=1)
            Invoice.objects.filter(pk=expiring.invoice.pk).update(expires_at=past)
            assert expire_invoices() == 1

        # then
        expect(status).to_have_text("This pledge lapsed: its invoice expired unpaid.")
        expect(way_to_pay).to_be_hidden()

        # when: the third is paid, then its payment leaves the chain
        open_pledge(page, dropped)
        expect(status).to_have_text("Waiting for your payment…")
        with outside_browser_loop():
            invoice = dropped.invoice
            transfer = proven(*paying(invoice, recipient=invoice.recipient, seq=41))
            record_transfer(transfer, solidified=False)
        expect(status).to_have_text(
            "Paid: your pledge is in a block. It becomes final in about a minute."
        )
        with outside_browser_loop():
            drop_transfer(transfer.txid, transfer.log_index)

        # then
        expect(status).to_have_text("This pledge lapsed: the payment failed or left the chain.")
        with outside_browser_loop():
            states = dict(Pledge.objects.values_list("pk", "state"))
        assert states == {
            paid.pk: Pledge.State.PAID,
            expiring.pk: Pledge.State.LAPSED,
            dropped.pk: Pledge.State.LAPSED,
        }
        assert errors == []
        assert_page_clean(page)
    finally:
        with outside_browser_loop():
            assert watcher.stop() == 0, watcher.output()
