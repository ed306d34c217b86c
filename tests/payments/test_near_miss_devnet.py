"""Near misses on the devnet, found by the real chain watcher: a fan who sends the round price
(12.5 instead of 12.500001) is told on the invoice page, live and after a reload, with what to
do; nobody learns another fan's wallet or transaction from it."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts import wallets
from accounts.models import User
from creators.models import Creator
from payments.models import Invoice, UnmatchedTransfer
from purchases import services as purchases
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop
from tests.fixtures.content import Site
from tests.fixtures.devnet import Devnet, Wallet, funded_wallet
from tests.fixtures.processes import wait_for
from tests.fixtures.sales import on_sale
from tests.payments.watching import send_btt, start_watcher_process

pytestmark = pytest.mark.django_db(transaction=True)

BTT = 10**18
ROUND_PRICE = 12_500_000 * 10**12  # 12.5 BTT, the price without its tag


def kept(txid: str) -> bool:
    return UnmatchedTransfer.objects.filter(txid=txid).exists()


def invoice_page(user: User, invoice: Invoice) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/invoices/{invoice.pk}/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def verified(user: User, wallet: Wallet) -> Wallet:
    challenge = wallets.wallet_challenge(user)
    wallets.verify_wallet(user, wallet.address, wallet.key.sign_msg(challenge.encode()).hex())
    return wallet


def test_the_round_price_sent_is_shown_live_on_the_invoice_with_what_to_do(
    site: Site,
    node_and_worker: Devnet,
    browser: Chromium,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: the fan's invoice asks 12.500001 BTT; the page is open on a phone, following it
    devnet = node_and_worker
    content = on_sale(creator, {"a.bin": b"r" * 1000}, "Round", "12.5")
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    wallet = funded_wallet(devnet, trx=100_000_000, trc20=20 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    try:
        page = browser.open(site.url, fan)
        page.set_viewport_size({"width": 360, "height": 800})
        page.goto(f"/invoices/{invoice.pk}/")
        expect(page.locator("[data-invoice]")).to_have_attribute("data-live", "live")
        near = page.locator("[data-near-misses]")
        expect(near).to_be_hidden()

        # when: the fan's wallet sends the round price
        txid = send_btt(devnet, wallet, creator.payout_address, ROUND_PRICE)

        # then: the page says so at once, and what to do; the invoice still waits
        expect(near).to_be_visible(timeout=60_000)
        expect(near).to_contain_text(
            "A transfer of 12.5 BTT reached The Maker's address, but it is not the "
            "12.500001 BTT this invoice asks for, so it does not pay it."
        )
        expect(near).to_contain_text("Sending the difference does not work")
        expect(near).to_contain_text("send exactly 12.500001 BTT with the Copy amount button")
        expect(page.locator("[data-status]")).to_have_text("Waiting for your payment.")
        # The sender is not one the fan is known to use: neither it nor the txid is named.
        text = near.inner_text()
        assert wallet.address not in text
        assert txid not in text
        expect(near.locator("[data-near-miss]")).to_have_count(1)

        # when: the page is loaded again (the block has been solidified meanwhile, so the
        # watcher told the socket a second time)
        page.reload()

        # then: the same one message, rendered by the server
        expect(near).to_be_visible()
        expect(near.locator("[data-near-miss]")).to_have_count(1)
        expect(near).to_contain_text("A transfer of 12.5 BTT reached The Maker's address")
        assert_page_clean(page)
        with outside_browser_loop():
            invoice.refresh_from_db()
            assert (invoice.state, invoice.amount_paid) == ("new", 0)
            assert UnmatchedTransfer.objects.get(txid=txid).state == "open"
    finally:
        watcher.stop()


def test_a_near_miss_names_its_wallet_to_its_payer_only_and_a_strangers_to_nobody(
    site: Site,
    node_and_worker: Devnet,
    creator: Creator,
    fan: User,
    stranger: User,
    tmp_path: Path,
) -> None:
    # given: two fans with open invoices for the same album (12.500001 and 12.500002 BTT);
    # the fan verified a wallet; a third wallet belongs to nobody here
    devnet = node_and_worker
    content = on_sale(creator, {"a.bin": b"h" * 1000}, "Hostile", "12.5")
    mine, _ = purchases.create_purchase_invoice(fan, content)
    theirs, _ = purchases.create_purchase_invoice(stranger, content)
    assert {mine.amount_due, theirs.amount_due} == {12_500_001 * 10**12, 12_500_002 * 10**12}
    fans_wallet = verified(fan, funded_wallet(devnet, trx=100_000_000, trc20=20 * BTT))
    outsider = funded_wallet(devnet, trx=100_000_000, trc20=20 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    try:
        # when: the fan's wallet sends the round price, and the outsider 12.49 BTT
        from_fan = send_btt(devnet, fans_wallet, creator.payout_address, ROUND_PRICE)
        from_outsider = send_btt(devnet, outsider, creator.payout_address, 12_490_000 * 10**12)
        wait_for(lambda: kept(from_fan) and kept(from_outsider), timeout=60, what="both kept")
    finally:
        watcher.stop()

    # then: the fan's page says the 12.5 came from their wallet, naming the transaction ...
    fans_page = invoice_page(fan, mine)
    assert "A transfer of 12.5 BTT reached The Maker's address from your wallet" in fans_page
    assert from_fan in fans_page
    # ... and the other fan's page does not show it at all
    their_page = invoice_page(stranger, theirs)
    assert "A transfer of 12.5 BTT" not in their_page
    assert from_fan not in their_page
    assert fans_wallet.address not in their_page
    # the outsider's 12.49 is on both pages as "a transfer arrived", never whose or which
    for page in (fans_page, their_page):
        assert len(re.findall(r"A transfer of 12\.49 BTT reached The Maker's address,", page)) == 1
        assert from_outsider not in page
        assert outsider.address not in page
    # nothing was credited to anyone
    assert list(
        Invoice.objects.filter(pk__in=[mine.pk, theirs.pk]).values_list("amount_paid", flat=True)
    ) == [0, 0]
