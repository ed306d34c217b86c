"""/ws/overlay/<key>/ and /ws/live/<handle>/ on the live ASGI server and real Redis pub/sub:
who hears an alert, in which order, and what a reconnect replays."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from accounts.models import User
from creators.models import Creator
from payments.crediting import drop_transfer
from support import services
from tests.fixtures.servers import AsgiServer
from tests.support.tipping import OTHER_ADDRESS, other_creator, pay, tip, tipping_creator

pytestmark = pytest.mark.django_db(transaction=True)


def socket(server: AsgiServer, path: str) -> ClientConnection:
    return connect(f"ws://{server.host}:{server.port}{path}", origin=Origin(server.url))


def overlay(server: AsgiServer, creator: Creator) -> ClientConnection:
    return socket(server, f"/ws/overlay/{services.tip_settings(creator).overlay_key}/")


def heard(connection: ClientConnection, timeout: float = 20) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(connection.recv(timeout=timeout))
    return message


def quiet(connection: ClientConnection) -> bool:
    try:
        connection.recv(timeout=1)
    except TimeoutError:
        return True
    return False


def alert_of(message: dict[str, Any]) -> tuple[str, int, str, str]:
    return message["type"], message["seq"], message["name"], message["message"]


def test_a_paid_tip_reaches_its_creators_overlay_and_live_page_in_order_and_no_one_elses(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    # given: two creators' overlays and the first one's live page, open
    tipping_creator(creator)
    other = tipping_creator(other_creator(), OTHER_ADDRESS)
    tips = [tip(fan, creator, name=f"fan {n}", message=f"message {n}") for n in (1, 2, 3)]
    with (
        overlay(asgi_server, creator) as mine,
        overlay(asgi_server, other) as theirs,
        socket(asgi_server, f"/ws/live/{creator.handle}/") as live,
    ):
        hellos = [heard(mine), heard(theirs), heard(live)]
        assert [(h["type"], h["last_seq"]) for h in hellos] == [("hello", 0)] * 3

        # when: three tips are paid, and a test alert is sent
        for made in tips:
            pay(made)
        services.send_test_alert(creator.user)

        # then: the overlay hears all four in order, the live page the three tips
        expected = [("alert", n, f"fan {n}", f"message {n}") for n in (1, 2, 3)]
        overlay_alerts = [heard(mine) for _ in range(4)]
        assert [alert_of(m) for m in overlay_alerts[:3]] == expected
        assert alert_of(overlay_alerts[3])[:3] == ("alert", 4, "Test alert")
        assert overlay_alerts[3]["test"] is True
        assert [alert_of(heard(live)) for _ in range(3)] == expected
        assert overlay_alerts[0]["amount"] == tips[0].invoice.asked.decimal_string()
        assert overlay_alerts[0]["units"] == str(tips[0].invoice.amount_asked)
        assert quiet(live)
        assert quiet(theirs)


def test_alerts_missed_while_disconnected_are_replayed_in_order_after_the_last_one_seen(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    # given: an overlay that saw alert 1, then lost its connection
    tipping_creator(creator)
    with overlay(asgi_server, creator) as first:
        assert heard(first)["last_seq"] == 0
        pay(tip(fan, creator, name="one"))
        assert alert_of(heard(first))[:3] == ("alert", 1, "one")

    # when: two more tips are paid meanwhile, and it reconnects asking for what came after 1
    pay(tip(fan, creator, name="two"))
    pay(tip(fan, creator, name="three"))
    with overlay(asgi_server, creator) as again:
        hello = heard(again)
        again.send(json.dumps({"type": "resume", "after": 1}))
        replayed = [heard(again), heard(again)]
        pay(tip(fan, creator, name="four"))
        live = heard(again)

        # then
        assert hello["last_seq"] == 3
        assert [alert_of(m)[:3] for m in (*replayed, live)] == [
            ("alert", 2, "two"),
            ("alert", 3, "three"),
            ("alert", 4, "four"),
        ]
        assert quiet(again)


@pytest.mark.parametrize("after", ["1", -1, 1.5, None, True, [1]])
def test_a_hostile_resume_is_answered_with_an_error_and_replays_nothing(
    asgi_server: AsgiServer, fan: User, creator: Creator, after: object
) -> None:
    tipping_creator(creator)
    pay(tip(fan, creator))
    with overlay(asgi_server, creator) as connection:
        heard(connection)
        connection.send(json.dumps({"type": "resume", "after": after}))
        assert heard(connection) == {"type": "error", "detail": "after is a whole number"}
        connection.send("not json at all {")
        connection.send(json.dumps({"type": "ping"}))
        assert heard(connection) == {"type": "pong"}


def test_rotating_the_key_closes_the_old_overlay_and_refuses_the_old_url(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    # given
    tipping_creator(creator)
    old_key = services.tip_settings(creator).overlay_key
    with socket(asgi_server, f"/ws/overlay/{old_key}/") as old:
        heard(old)

        # when
        services.rotate_overlay_key(creator.user)

        # then: told, closed, and the old URL no longer connects
        assert heard(old) == {"type": "revoked"}
        with pytest.raises(ConnectionClosed) as closed:
            old.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
    with (
        pytest.raises((InvalidStatus, ConnectionClosed)),
        socket(asgi_server, f"/ws/overlay/{old_key}/") as refused,
    ):
        refused.recv(timeout=10)
    with overlay(asgi_server, creator) as current:
        heard(current)
        pay(tip(fan, creator, name="after"))
        assert alert_of(heard(current))[:3] == ("alert", 1, "after")


def test_a_tip_whose_payment_leaves_the_chain_is_withdrawn_on_overlay_and_live_page(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    tipping_creator(creator)
    made = tip(fan, creator, name="Bo")
    with (
        overlay(asgi_server, creator) as mine,
        socket(asgi_server, f"/ws/live/{creator.handle}/") as live,
    ):
        assert heard(mine)["type"] == heard(live)["type"] == "hello"
        transfer = pay(made)
        assert alert_of(heard(mine)) == alert_of(heard(live)) == ("alert", 1, "Bo", "")

        drop_transfer(transfer.txid, transfer.log_index)

        for connection in (mine, live):
            withdrawn = heard(connection)
            assert (withdrawn["type"], withdrawn["seq"]) == ("withdrawn", 1)
            assert withdrawn["goal"]["raised"] == "0"
        # A replay (after a reconnect) still numbers it, marked so that it is not shown.
        mine.send(json.dumps({"type": "resume", "after": 0}))
        replayed = heard(mine)
        assert (replayed["seq"], replayed["withdrawn"]) == (1, True)
