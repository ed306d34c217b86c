"""The fan's whole path in Chromium: sign up, open a paid content, Buy, pay with TronLink (a
stand-in extension around the real TronWeb library holding a devnet key), sign the claim
message with the paying account, watch the invoice go to processing and then settled without
reloading, download in the browser, same sha256. A fan who declines to sign is matched by the
invoice's unique amount instead.

The stand-in works as TronLink does: the page gets ``window.tronLink`` and a TronWeb instance
whose requests to the node leave through the extension (here a Playwright binding that
forwards them to the devnet), not from the page, so the site's CSP stays as it is.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from accounts import wallets
from accounts.models import User
from accounts.wallets import signer_of
from creators.models import Creator
from ledger.models import Grant
from payments.models import Invoice, TxClaim
from purchases import services as purchases
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.content import Site
from tests.fixtures.devnet import Devnet, Wallet, funded_wallet
from tests.fixtures.downloads import random_bytes, start_and_collect
from tests.fixtures.personas import PASSWORD
from tests.fixtures.processes import BASE_DIR
from tests.fixtures.sales import on_sale
from tests.payments.watching import start_watcher_process

# Each page the journey leaves open is put through axe at the end (tests/fixtures/browser.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.audit_pages]

TRONWEB_BUNDLE = BASE_DIR / "node_modules" / "tronweb" / "dist" / "TronWeb.js"
BTT = 10**18

STAND_IN_TRONLINK = """
(() => {
  const { TronWeb, providers } = window.TronWeb;
  // TronLink's provider hands every node request to the extension; so does this one.
  class ExtensionProvider extends providers.HttpProvider {
    async request(url, payload = {}, method = "get") {
      return JSON.parse(await window.__tronLinkNode(url, method, JSON.stringify(payload)));
    }
  }
  const node = new ExtensionProvider(%(node)s);
  const tronWeb = new TronWeb({
    fullNode: node, solidityNode: node, eventServer: node, privateKey: %(key)s,
  });
  const asked = [];
  // TronLink's message signing (TIP-191): the real TronWeb's, recorded; a fan may decline.
  const signed = [];
  const signMessageV2 = tronWeb.trx.signMessageV2.bind(tronWeb.trx);
  tronWeb.trx.signMessageV2 = async (message) => {
    if (window.tronLink.declineSigning) throw "Confirmation declined by user";
    signed.push(message);
    return signMessageV2(message);
  };
  window.tronLink = {
    ready: true,
    tronWeb,
    asked,
    signed,
    declineSigning: false,
    request: async ({ method }) => {
      asked.push(method);
      return { code: 200, message: "The site is already in the whitelist" };
    },
  };
  window.tronWeb = tronWeb;
})();
"""


def install_tronlink(context: BrowserContext, node: Devnet, wallet: Wallet) -> list[str]:
    """The stand-in extension in every page of ``context``; the node calls it forwarded."""
    forwarded: list[str] = []

    def to_node(url: str, method: str, payload: str) -> str:
        body = json.loads(payload) if payload else {}
        target = f"{node.url}/{url.lstrip('/')}"
        forwarded.append(f"{method.upper()} /{url.lstrip('/')}")
        if method.lower() == "post":
            response = httpx.post(target, json=body, timeout=30)
        else:
            response = httpx.get(target, params=body or None, timeout=30)
        return response.text

    context.expose_function("__tronLinkNode", to_node)
    context.add_init_script(path=TRONWEB_BUNDLE)
    context.add_init_script(
        STAND_IN_TRONLINK % {"node": json.dumps(node.url), "key": json.dumps(wallet.key.hex())}
    )
    return forwarded


def claims_sent(page: Page) -> list[dict[str, str]]:
    """The JSON bodies of the claims the page POSTs, as they leave the browser."""
    bodies: list[dict[str, str]] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/claims"):
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", seen)
    return bodies


def sign_up(page: Page, username: str) -> None:
    page.goto("/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text(f"Welcome, {username}!")).to_be_visible()


def test_a_fan_signs_up_pays_with_tronlink_watches_it_settle_and_downloads(
    site: Site, node_and_worker: Devnet, browser: Chromium, creator: Creator, tmp_path: Path
) -> None:
    # given: the creator's album (own wallet) at 12.5 BTT, and a fan's wallet on the devnet
    devnet = node_and_worker
    data = random_bytes(2 * 1024 * 1024 + 777, seed=11)
    content = on_sale(creator, {"night.bin": data}, "Night", "12.5")
    wallet = funded_wallet(devnet, trx=100_000_000, trc20=50 * BTT)
    page = browser.open(site.url)
    forwarded = install_tronlink(page.context, devnet, wallet)
    claims = claims_sent(page)

    # when: a new fan signs up, opens the content and buys it
    sign_up(page, "lumen")
    page.goto(f"/content/{content.pk}/")
    page.get_by_role("button", name="Buy").click()

    # then: the invoice page asks for 12.5 BTT and its tag, to the creator's address
    status = page.locator("[data-status]")
    expect(status).to_have_text("Waiting for your payment.")
    expect(page.locator("[data-amount]")).to_have_text("12.500001")
    expect(page.locator("[data-pay-address]")).to_have_text(creator.payout_address)
    # 15:00 at the server, a moment less here
    expect(page.locator("[data-countdown-value]")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    pay = page.get_by_role("button", name="Pay with TronLink")
    expect(pay).to_be_visible()
    screenshots(page, "purchase")

    # when: the fan pays with TronLink
    page.evaluate("window.__samePage = true")
    pay.click()

    # then: processing once the transfer is in a block, then settled once solidified (19
    # blocks of a second), on the same page: no reload happened
    expect(status).to_have_text(
        "Payment received in a block; waiting for the network to confirm it.", timeout=60_000
    )
    expect(status).to_have_text("Paid and confirmed.", timeout=120_000)
    assert page.evaluate("window.__samePage") is True
    assert page.evaluate("window.tronLink.asked") == ["tron_requestAccounts"]
    assert "POST /wallet/broadcasttransaction" in forwarded
    # the claim carried the paying account's signature over this page's claim message
    template = page.locator("[data-invoice]").get_attribute("data-claim-message") or ""
    assert "{txid}" in template
    assert len(claims) == 1
    assert set(claims[0]) == {"txid", "signature"}
    message = template.replace("{txid}", claims[0]["txid"].lower())
    assert page.evaluate("window.tronLink.signed") == [message]
    assert signer_of(message, claims[0]["signature"]) == wallet.address
    expect(page.get_by_role("link", name="Download it now")).to_be_visible()
    assert_page_clean(page)
    screenshots(page, "purchase-settled")
    with outside_browser_loop():
        invoice = Invoice.objects.select_related("payer").get()
        claim = TxClaim.objects.get()
        assert (invoice.state, invoice.payer_id) == (
            "settled",
            User.objects.get(username="lumen").pk,
        )
        assert invoice.amount_paid == invoice.amount_due == 12_500_001 * 10**12
        assert invoice.payer_address == wallet.address
        assert (claim.invoice_id, claim.state) == (invoice.pk, TxClaim.State.VERIFIED)
        assert invoice.txids() == [claim.txid] == [claims[0]["txid"]]
        assert Grant.objects.filter(user=invoice.payer, content=content).exists()

    # when: the fan downloads it in the browser
    page.get_by_role("link", name="Download it now").click()
    saved = start_and_collect(page, 1, tmp_path / "saved")

    # then
    assert hashlib.sha256(saved["night.bin"].read_bytes()).digest() == hashlib.sha256(data).digest()
    assert_page_clean(page)


def test_a_transfer_that_fails_on_chain_is_explained_and_can_be_paid_again(
    site: Site, node_and_worker: Devnet, browser: Chromium, creator: Creator, fan: User
) -> None:
    # given: a fan on an open invoice whose TronLink account holds TRX for fees but no BTT
    devnet = node_and_worker
    content = on_sale(creator, {"a.bin": b"x" * 1000}, "Short", "1")
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    empty = funded_wallet(devnet, trx=100_000_000)
    page = browser.open(site.url, fan)
    install_tronlink(page.context, devnet, empty)
    page.goto(f"/invoices/{invoice.pk}/")
    pay = page.get_by_role("button", name="Pay with TronLink")

    # when: the fan pays; the token contract reverts the transfer in its block
    pay.click()

    # then: the page says why, the invoice still waits, and the button works again
    expect(page.locator("[data-detail]")).to_have_text(
        re.compile(r"^The transaction your wallet sent cannot pay this invoice: failed"),
        timeout=60_000,
    )
    expect(page.locator("[data-status]")).to_have_text("Waiting for your payment.")
    expect(pay).to_be_enabled()
    assert_page_clean(page)
    with outside_browser_loop():
        invoice.refresh_from_db()
        assert (invoice.state, invoice.amount_paid) == ("new", 0)
        assert TxClaim.objects.get().state == TxClaim.State.REFUSED


def test_a_fan_who_declines_to_sign_the_claim_is_matched_by_the_unique_amount(
    site: Site,
    node_and_worker: Devnet,
    browser: Chromium,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: a fan on an open invoice, paying from a wallet the account never verified, with
    # the chain watcher running
    devnet = node_and_worker
    content = on_sale(creator, {"a.bin": b"y" * 1000}, "Quiet", "2")
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    wallet = funded_wallet(devnet, trx=100_000_000, trc20=5 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    try:
        page = browser.open(site.url, fan)
        install_tronlink(page.context, devnet, wallet)
        claims = claims_sent(page)
        page.goto(f"/invoices/{invoice.pk}/")
        page.evaluate("window.tronLink.declineSigning = true")

        # when: the fan pays with TronLink, then rejects the signature request
        page.get_by_role("button", name="Pay with TronLink").click()

        # then: the page says that is fine, claims nothing, and the transfer's unique amount
        # takes the invoice to processing and settled all the same
        expect(page.locator("[data-wallet-status]")).to_contain_text(
            "you did not sign, which is fine: it carries this invoice's exact amount and is "
            "matched to it when its block arrives.",
            timeout=60_000,
        )
        status = page.locator("[data-status]")
        expect(status).to_have_text(
            "Payment received in a block; waiting for the network to confirm it.",
            timeout=60_000,
        )
        expect(status).to_have_text("Paid and confirmed.", timeout=120_000)
        assert claims == []
        assert page.evaluate("window.tronLink.signed") == []
        assert_page_clean(page)
        with outside_browser_loop():
            invoice.refresh_from_db()
            assert (invoice.state, invoice.payer_address) == ("settled", wallet.address)
            assert not TxClaim.objects.exists()
    finally:
        watcher.stop()


def test_a_fan_paying_from_a_verified_wallet_is_not_asked_to_sign(
    site: Site, node_and_worker: Devnet, browser: Chromium, creator: Creator, fan: User
) -> None:
    # given: a fan who verified the wallet TronLink pays from, on an open invoice
    devnet = node_and_worker
    content = on_sale(creator, {"a.bin": b"z" * 1000}, "Known", "3")
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    wallet = funded_wallet(devnet, trx=100_000_000, trc20=5 * BTT)
    challenge = wallets.wallet_challenge(fan)
    wallets.verify_wallet(fan, wallet.address, wallet.key.sign_msg(challenge.encode()).hex())
    page = browser.open(site.url, fan)
    install_tronlink(page.context, devnet, wallet)
    claims = claims_sent(page)
    page.goto(f"/invoices/{invoice.pk}/")

    # when: the fan pays with TronLink
    page.get_by_role("button", name="Pay with TronLink").click()

    # then: the claim goes without a signature, and the invoice settles through it
    status = page.locator("[data-status]")
    expect(status).to_have_text("Paid and confirmed.", timeout=120_000)
    assert page.evaluate("window.tronLink.signed") == []
    assert len(claims) == 1
    assert set(claims[0]) == {"txid"}
    assert_page_clean(page)
    with outside_browser_loop():
        claim = TxClaim.objects.get()
        assert (claim.txid, claim.state) == (claims[0]["txid"], TxClaim.State.VERIFIED)
