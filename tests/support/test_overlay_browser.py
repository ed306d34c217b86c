"""The overlay's script in Chromium: alerts shown one after another in order, a gap (a lost
message) filled by asking again, and alerts missed while the connection was down replayed
after it reconnects. The socket runs through Playwright's WebSocket routing to the live server,
which lets the test drop one message and cut the connection."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import WebSocketRoute, expect

from accounts.models import User
from creators.models import Creator
from payments.crediting import drop_transfer
from payments.money import Amount, Token
from support import services
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop
from tests.fixtures.servers import AsgiServer
from tests.support.tipping import pay, tip, tipping_creator, with_goal

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_overlay_fills_a_gap_and_replays_what_it_missed_while_disconnected(
    browser: Chromium, asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    # given: an overlay whose socket goes through a route the test controls
    tipping_creator(creator)
    key = services.tip_settings(creator).overlay_key
    tips = [tip(fan if n % 2 else stranger, creator, name=f"fan {n}") for n in range(1, 6)]
    page = browser.open(asgi_server.url)
    routes: list[WebSocketRoute] = []
    dropped: list[int] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        routes.append(ws)

        def from_server(message: str | bytes) -> None:
            alert = json.loads(message)
            # The first time alert 2 comes, it is lost on the way.
            if alert.get("type") == "alert" and alert["seq"] == 2 and not dropped:
                dropped.append(2)
                return
            ws.send(message)

        server.on_message(from_server)

    page.route_web_socket(f"**/ws/overlay/{key}/", route)
    page.goto(f"/overlay/{key}/")
    expect(page.locator("body")).to_have_attribute("data-socket", "live")
    page.evaluate("document.body.dataset.alertMs = '200'")

    # when: alerts 1-3 are raised, the second one lost
    with outside_browser_loop():
        for made in tips[:3]:
            pay(made)

    # then: the overlay notices the gap at 3, asks again, and shows 1, 2, 3 in order
    expect(page.locator("body")).to_have_attribute("data-shown", "1,2,3", timeout=20_000)
    assert dropped == [2]

    # when: the connection drops, two tips are paid meanwhile, and it reconnects
    routes[-1].close(code=1011, reason="cut by the test")
    expect(page.locator("body")).to_have_attribute("data-socket", "offline")
    with outside_browser_loop():
        for made in tips[3:]:
            pay(made)

    # then: the missed ones are replayed after the reconnect, once each, in order
    expect(page.locator("body")).to_have_attribute("data-shown", "1,2,3,4,5", timeout=30_000)
    expect(page.locator("body")).to_have_attribute("data-socket", "live")
    assert len(routes) == 2
    assert_page_clean(page)


def test_an_alert_whose_payment_leaves_the_chain_before_its_turn_is_never_shown(
    browser: Chromium, asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    # given: an overlay showing each alert for a while, and three tips paid at once
    tipping_creator(creator)
    with_goal(creator, "1000", title="Mic")
    tips = [tip(fan, creator, Amount.parse("100", Token.BTT), name=f"fan {n}") for n in (1, 2, 3)]
    key = services.tip_settings(creator).overlay_key
    page = browser.open(asgi_server.url)
    page.goto(f"/overlay/{key}/")
    expect(page.locator("body")).to_have_attribute("data-socket", "live")
    page.evaluate("document.body.dataset.alertMs = '8000'")
    with outside_browser_loop():
        transfers = [pay(made) for made in tips]
    expect(page.locator("body")).to_have_attribute("data-shown", "1", timeout=20_000)

    # when: the second one's payment leaves the chain while the first is on screen
    with outside_browser_loop():
        drop_transfer(transfers[1].txid, transfers[1].log_index)

    # then: it is skipped, and the goal bar counts the other two
    expect(page.locator("body")).to_have_attribute("data-shown", "1,3", timeout=30_000)
    expect(page.locator("[data-goal-raised]")).to_have_text(
        (tips[0].invoice.asked + tips[2].invoice.asked).decimal_string()
    )
    assert_page_clean(page)
