"""The wallet settings page in Chromium: a fan verifies the account selected in TronLink (a
stand-in extension around the real TronWeb library holding a test key) and removes it again;
what the page says when TronLink is missing, the fan declines, or the platform refuses."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import BrowserContext, expect
from tronpy.keys import PrivateKey

from accounts import wallets
from accounts.models import User
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.processes import BASE_DIR
from tests.fixtures.servers import AsgiServer

# Each page the journey leaves open is put through axe at the end (tests/fixtures/browser.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.audit_pages]

TRONWEB_BUNDLE = BASE_DIR / "node_modules" / "tronweb" / "dist" / "TronWeb.js"

# TronLink as the page sees it, signing offline: signing a message needs no node, so any node
# request is a failure here. `decline` answers the signature request as TronLink does when the
# fan presses Reject; `signer` signs with another key than the selected account's.
STAND_IN_TRONLINK = """
(() => {
  const { TronWeb, providers } = window.TronWeb;
  class NoNode extends providers.HttpProvider {
    async request(url) { throw new Error(`no node in this test: ${url}`); }
  }
  const node = new NoNode("http://127.0.0.1:9");
  const tronWeb = new TronWeb({
    fullNode: node, solidityNode: node, eventServer: node, privateKey: %(key)s,
  });
  const signed = [];
  const sign = tronWeb.trx.signMessageV2.bind(tronWeb.trx);
  tronWeb.trx.signMessageV2 = async (message) => {
    if (%(decline)s) throw "Confirmation declined by user";
    signed.push(message);
    return sign(message, %(signer)s || undefined);
  };
  window.tronLink = {
    ready: true,
    tronWeb,
    signed,
    request: async () => ({ code: 200, message: "The site is already in the whitelist" }),
  };
  window.tronWeb = tronWeb;
})();
"""


def install_tronlink(
    context: BrowserContext,
    key: PrivateKey,
    decline: bool = False,
    signer: PrivateKey | None = None,
) -> None:
    context.add_init_script(path=TRONWEB_BUNDLE)
    context.add_init_script(
        STAND_IN_TRONLINK
        % {
            "key": json.dumps(key.hex()),
            "decline": json.dumps(decline),
            "signer": json.dumps(signer.hex() if signer else ""),
        }
    )


def test_a_fan_verifies_the_tronlink_account_and_removes_it(
    browser: Chromium, asgi_server: AsgiServer, fan: User
) -> None:
    # given: a signed-in fan whose TronLink holds a key
    key = PrivateKey.random()
    address = key.public_key.to_base58check_address()
    page = browser.open(asgi_server.url, fan)
    install_tronlink(page.context, key)

    # when: the fan opens Wallets from the menu and verifies with TronLink
    page.goto("/")
    page.get_by_role("link", name="Wallets").click()
    expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()
    expect(page.get_by_text("No verified wallets yet.")).to_be_visible()
    page.get_by_role("button", name="Verify with TronLink").click()

    # then: the page says so and lists it; the account has it
    status = page.locator("[data-wallet-status]")
    expect(status).to_have_text(f"Verified: {address} is now one of your wallets.")
    expect(page.locator(f'[data-wallet="{address}"] code')).to_have_text(address)
    expect(page.get_by_text("No verified wallets yet.")).to_be_hidden()
    signed = page.evaluate("window.tronLink.signed")
    assert len(signed) == 1
    assert '"fan"' in signed[0]  # the account, the site and a nonce
    assert urlsplit(settings.SITE_URL).netloc in signed[0]
    assert_page_clean(page)
    screenshots(page, "wallets")
    with outside_browser_loop():
        assert wallets.verified_addresses(fan) == {address}

    # when: the fan removes it (from the row the page just added)
    page.locator(f'[data-wallet="{address}"]').get_by_role("button", name="Remove").click()

    # then
    expect(page.get_by_text(f"Wallet {address} removed.")).to_be_visible()
    expect(page.get_by_text("No verified wallets yet.")).to_be_visible()
    with outside_browser_loop():
        assert wallets.verified_addresses(fan) == set()
    assert_page_clean(page)


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        pytest.param(
            None,
            "TronLink was not found: install the TronLink extension, or open this page in "
            "TronLink's own browser.",
            id="no TronLink",
        ),
        pytest.param(
            {"decline": True},
            "You declined to sign in TronLink; nothing was verified.",
            id="declined",
        ),
        pytest.param(
            {"signer": PrivateKey.random()},
            "refused it: The signature was not made by",
            id="refused",
        ),
    ],
)
def test_the_page_says_why_nothing_was_verified(
    browser: Chromium,
    asgi_server: AsgiServer,
    fan: User,
    setup: dict[str, object] | None,
    said: str,
) -> None:
    key = PrivateKey.random()
    page = browser.open(asgi_server.url, fan)
    if setup is not None:
        install_tronlink(page.context, key, **setup)  # type: ignore[arg-type]
    if setup is not None and "signer" in setup:
        browser.allow_console_error(r"status of 400 .*/wallets/verify\)$", "a wrong signature")

    page.goto("/settings/wallets/")
    page.get_by_role("button", name="Verify with TronLink").click()

    status = page.locator("[data-wallet-status]")
    expect(status).to_contain_text(said, timeout=10_000)
    expect(status).to_have_attribute("data-tone", "error")
    expect(page.get_by_role("button", name="Verify with TronLink")).to_be_enabled()
    expect(page.get_by_text("No verified wallets yet.")).to_be_visible()
    assert_page_clean(page)
