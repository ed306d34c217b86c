"""The studio's tips page in Chromium: the overlay's secret URL is masked on screen (streamers
share it) until its owner asks to see it, and copies whole either way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from creators.models import Creator
from support import services
from tests.fixtures.browser import Chromium, assert_page_clean
from tests.fixtures.servers import AsgiServer
from tests.support.tipping import tipping_creator

# Each page the journey leaves open is put through axe at the end (tests/fixtures/browser.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.audit_pages]


def test_the_overlay_url_is_masked_until_shown_and_copies_whole(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    # given
    tipping_creator(creator)
    key = services.tip_settings(creator).overlay_key
    page = browser.open(asgi_server.url, creator.user)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # when: the studio's tips page opens
    page.goto("/studio/tips/")

    # then: the URL is in a masked field; nothing on screen shows the key
    secret = page.get_by_label("Overlay URL (hidden)")
    expect(secret).to_have_attribute("type", "password")
    assert key not in page.locator("body").inner_text()
    reveal = page.get_by_role("button", name="Show")
    expect(reveal).to_have_attribute("aria-pressed", "false")

    # when: copied while masked, the clipboard holds the whole URL
    page.locator("[data-copy-target=overlay-url]").click()
    expect(page.locator("[data-copy-target=overlay-url]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"{asgi_server.url}/overlay/{key}/"

    # when: shown, then hidden again
    reveal.click()
    shown = page.get_by_label("Overlay URL", exact=True)
    expect(shown).to_have_attribute("type", "text")
    expect(shown).to_have_value(f"{asgi_server.url}/overlay/{key}/")
    expect(page.get_by_role("button", name="Hide")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Hide").click()
    expect(page.get_by_label("Overlay URL (hidden)")).to_have_attribute("type", "password")
    assert_page_clean(page)
