"""The swarm health page in Chromium: a real engine process starting and stopping shows up live,
without a reload; screenshots at desktop and phone width."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from accounts.models import User
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.processes import Child
from tests.fixtures.servers import AsgiServer

LIVE_TIMEOUT_MS = 30_000  # a hang guard: heartbeats come every second in tests


def test_the_health_page_shows_an_engine_start_and_stop_live(
    browser: Chromium,
    asgi_server: AsgiServer,
    moderator: User,
    engine_factory: Callable[..., Child],
) -> None:
    # given: a moderator on the health page, no engine yet
    page = browser.open(asgi_server.url, moderator)
    page.goto("/staff/health/")
    expect(page.locator("[data-swarm-health]")).to_have_attribute("data-live", "live")
    expect(page.locator("[data-no-nodes]")).to_be_visible()
    # when: an engine process starts
    with outside_browser_loop():
        engine = engine_factory()
    # then: its row appears with its heartbeat
    row = page.locator(f'tr[data-node="{engine.name}"]')
    expect(row.locator('[data-field="status"]')).to_have_text("up", timeout=LIVE_TIMEOUT_MS)
    expect(row.locator('[data-field="listen_address"]')).to_contain_text("127.0.0.1:")
    expect(row.locator('[data-field="torrents"]')).to_have_text("0")
    screenshots(page, "staff-health")
    # when: it stops
    with outside_browser_loop():
        assert engine.stop() == 0
    # then
    expect(row.locator('[data-field="status"]')).to_have_text("stopped", timeout=LIVE_TIMEOUT_MS)
    assert_page_clean(page)
