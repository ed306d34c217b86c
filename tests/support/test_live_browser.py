"""The live page and the studio in Chromium: tips arrive in the live feed over the socket as
inert text, the goal bar moves, and the studio's "Send test alert" shows on an open overlay."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from creators.models import Creator
from payments.crediting import drop_transfer
from payments.money import Amount, Token
from support import services
from tests.fixtures.browser import (
    Chromium,
    assert_page_clean,
    outside_browser_loop,
    screenshots,
)
from tests.fixtures.servers import AsgiServer
from tests.support.tipping import (
    HOSTILE_MESSAGES,
    HOSTILE_NAMES,
    pay,
    tip,
    tipping_creator,
    with_goal,
)

# Each page the journey leaves open is put through axe at the end (tests/fixtures/browser.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.audit_pages]


def test_hostile_tips_arrive_in_the_live_feed_as_text_and_fill_the_goal(
    browser: Chromium, asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    # given: a creator live with a goal, their live page open
    tipping_creator(creator)
    with_goal(creator, "1800", minimum="100", title="<i>New</i> mic")
    services.start_live(creator.user, "Late show", "https://www.youtube-nocookie.com/embed/x")
    tips = [
        tip(fan if n % 2 else stranger, creator, name=name, message=message)
        for n, (name, message) in enumerate(zip(HOSTILE_NAMES, HOSTILE_MESSAGES, strict=True))
    ]
    page = browser.open(asgi_server.url)
    page.goto(f"/c/{creator.handle}/live/")
    expect(page.locator("[data-live-socket]")).to_have_attribute("data-socket", "live")

    # when: the tips are paid
    with outside_browser_loop():
        transfers = [pay(made) for made in tips]

    # then: each is one text item, newest first, nothing injected
    items = page.locator("[data-tip-feed] > li")
    expect(items).to_have_count(len(tips))
    for index, made in enumerate(reversed(tips)):
        item = items.nth(index)
        expect(item.locator(".tip-name")).to_have_text(made.display_name)
        if made.message:
            expect(item.locator(".tip-message")).to_have_text(made.message)
    assert page.locator("main img, main script, main style, [data-tip-feed] a").count() == 0
    expect(page.locator("[data-goal-title]")).to_have_text("<i>New</i> mic")
    expect(page.locator("[data-goal-bar]")).to_have_attribute("value", "500")
    assert page.locator("iframe.live-embed").count() == 1
    screenshots(page, "tip-live-page")

    # when: the newest tip's payment leaves the chain
    with outside_browser_loop():
        drop_transfer(transfers[-1].txid, transfers[-1].log_index)

    # then: it leaves the feed and the goal
    expect(items).to_have_count(len(tips) - 1)
    expect(items.first.locator(".tip-name")).to_have_text(tips[-2].display_name)
    expect(page.locator("[data-goal-raised]")).to_have_text(
        sum((made.invoice.asked for made in tips[:-1]), Amount.zero(Token.BTT)).decimal_string()
    )
    assert_page_clean(page)


def test_the_studios_test_alert_button_shows_on_the_open_overlay(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: the overlay in one tab, the studio's tips page in another
    tipping_creator(creator)
    key = services.tip_settings(creator).overlay_key
    overlay = browser.open(asgi_server.url)
    studio = browser.open(asgi_server.url, creator.user)
    overlay.goto(f"/overlay/{key}/")
    expect(overlay.locator("body")).to_have_attribute("data-socket", "live")
    studio.goto("/studio/tips/")

    # when
    studio.get_by_role("button", name="Send test alert").click()

    # then
    expect(studio.get_by_role("status").first).to_contain_text("Test alert 1 sent")
    expect(overlay.locator("[data-alert]")).to_be_visible()
    expect(overlay.locator("[data-alert-name]")).to_have_text("Test alert")
    expect(overlay.locator("[data-alert]")).to_have_class("alert tier-1 test")
    screenshots(studio, "tip-studio")
    assert_page_clean(overlay)


def test_an_hls_session_loads_hls_js_under_the_pages_policy(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    browser.allow_console_error(r"ERR_CONNECTION_REFUSED .*stream\.m3u8\)$", "no stream here")
    # given: a session on an HLS stream (nothing answers there; the player is what is tested)
    tipping_creator(creator)
    services.start_live(creator.user, "HLS", "https://127.0.0.1/live/stream.m3u8")
    page = browser.open(asgi_server.url)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))

    # when
    response = page.goto(f"/c/{creator.handle}/live/")

    # then: hls.js from npm is served and takes the video; the policy names the stream's origin
    assert response is not None
    assert "https://127.0.0.1 " in response.headers["content-security-policy"]
    page.wait_for_function("window.Hls !== undefined")
    assert page.evaluate("window.Hls.isSupported()") is True
    expect(page.locator("video[data-hls-src]")).to_have_count(1)
    page.wait_for_function("document.querySelector('video').src.startsWith('blob:')")
    assert not [e for e in errors if "Content Security Policy" in e]
    assert_page_clean(page)
