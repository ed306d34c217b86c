"""A tip paid on the devnet with unmodified tronpy, found by the chain watcher (a real
``manage.py watch_chain`` process): its alert reaches the creator's overlay and live page over
real Redis pub/sub, no other creator's overlay, and shows in Chromium as inert text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, expect
from websockets.sync.client import connect
from websockets.typing import Origin

from accounts.models import User
from creators.models import Creator
from payments.models import Invoice
from support import services
from support.models import Alert
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.devnet import Devnet, funded_wallet
from tests.fixtures.servers import AsgiServer
from tests.payments.watching import (
    creator_with_own_wallet,
    send_btt,
    start_watcher_process,
    state_of,
    wait_following,
)
from tests.support.tipping import other_creator, tip

pytestmark = pytest.mark.django_db(transaction=True)

SOLIDIFY = 3
BTT = 10**18
ON_DEMAND = {"TRON_DEVNET_BLOCK_SECONDS": "3600", "TRON_DEVNET_SOLIDIFY_BLOCKS": str(SOLIDIFY)}


def heard(connection: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(connection.recv(timeout=60))
    return message


def test_a_tip_paid_on_the_devnet_reaches_its_overlay_and_live_page_and_no_other_overlay(
    devnet_factory: Any, asgi_server: AsgiServer, fan: User, creator: Creator, tmp_path: Path
) -> None:
    # given: two creators with wallets of their own, a tip to the first, a funded payer
    devnet: Devnet = devnet_factory(**ON_DEMAND)
    creator_with_own_wallet(creator)
    other = creator_with_own_wallet(other_creator())
    made = tip(fan, creator, name="<b>Ada</b>", message="<script>alert(1)</script> hi")
    payer = funded_wallet(devnet, trx=100_000_000, trc20=500 * BTT)
    keys = [services.tip_settings(c).overlay_key for c in (creator, other)]
    base = f"ws://{asgi_server.host}:{asgi_server.port}"
    origin = Origin(asgi_server.url)
    watcher = start_watcher_process(tmp_path, devnet.url)
    try:
        with (
            connect(f"{base}/ws/overlay/{keys[0]}/", origin=origin) as mine,
            connect(f"{base}/ws/overlay/{keys[1]}/", origin=origin) as theirs,
            connect(f"{base}/ws/live/{creator.handle}/", origin=origin) as live,
        ):
            for connection in (mine, theirs, live):
                assert heard(connection)["type"] == "hello"
            wait_following(devnet)

            # when: the fan's wallet pays the tip's exact amount, and one block is made
            txid = send_btt(devnet, payer, made.invoice.recipient, made.invoice.amount_due)
            devnet.mine()

            # then: the overlay and the live page hear it, as the text that was typed
            on_overlay, on_live = heard(mine), heard(live)
            assert on_overlay == on_live
            assert (on_overlay["type"], on_overlay["seq"], on_overlay["test"]) == (
                "alert",
                1,
                False,
            )
            assert (on_overlay["name"], on_overlay["message"]) == (
                "<b>Ada</b>",
                "<script>alert(1)</script> hi",
            )
            # the tip as asked, though the wallet sent the tagged amount
            assert on_overlay["units"] == str(made.invoice.amount_asked)
            assert made.invoice.amount_asked < made.invoice.amount_due
            assert state_of(made.invoice) == Invoice.State.PROCESSING
            with pytest.raises(TimeoutError):
                theirs.recv(timeout=2)
    finally:
        assert watcher.stop() == 0, watcher.output()
    assert list(Alert.objects.values_list("creator_id", "seq", "tip_id")) == [
        (creator.pk, 1, made.pk)
    ]
    assert Invoice.objects.get(pk=made.invoice.pk).txids() == [txid]


def test_the_overlay_page_in_chromium_shows_a_devnet_tip_as_text(
    devnet_factory: Any,
    browser: Chromium,
    asgi_server: AsgiServer,
    fan: User,
    creator: Creator,
    tmp_path: Path,
) -> None:
    # given: the overlay open in the browser, a tip with a hostile name and message
    devnet: Devnet = devnet_factory(**ON_DEMAND)
    creator_with_own_wallet(creator)
    name = '"><img src=x onerror=alert(1)>'
    message = "<style>body{display:none}</style>\u200b<a href=javascript:alert(2)>x</a>"
    made = tip(fan, creator, name=name, message=message)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=500 * BTT)
    key = services.tip_settings(creator).overlay_key
    watcher = start_watcher_process(tmp_path, devnet.url)
    wait_following(devnet)
    page = browser.open(asgi_server.url)  # the browser's loop occupies the thread from here
    dialogs: list[str] = []

    def dialog_opened(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dialog_opened)
    try:
        page.goto(f"/overlay/{key}/")
        expect(page.locator("body")).to_have_attribute("data-socket", "live")
        expect(page.locator("[data-alert]")).to_be_hidden()

        # when: paid on chain
        with outside_browser_loop():
            send_btt(devnet, payer, made.invoice.recipient, made.invoice.amount_due)
            devnet.mine()

        # then: the alert shows the name and message as typed (cleaned), markup inert
        alert = page.locator("[data-alert]")
        expect(alert).to_be_visible(timeout=60_000)
        expect(page.locator("[data-alert-name]")).to_have_text(name)
        expect(page.locator("[data-alert-message]")).to_have_text(
            "<style>body{display:none}</style><a href=javascript:alert(2)>x</a>"
        )
        expect(page.locator("[data-alert-amount]")).to_have_text(
            f"{made.invoice.asked.decimal_string()} BTT"
        )
        assert page.locator("img, a, style:not(head style)").count() == 0
        assert page.locator("body").get_attribute("data-shown") == "1"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == (
            "rgba(0, 0, 0, 0)"
        )
        screenshots(page, "tip-overlay-alert")
        assert dialogs == []
        assert_page_clean(page)
    finally:
        with outside_browser_loop():
            assert watcher.stop() == 0, watcher.output()
