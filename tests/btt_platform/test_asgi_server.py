"""HTTP and WebSockets through a live ASGI server with events over real Redis pub/sub."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import transaction

from accounts.models import User
from accounts.notifications import notify_user
from accounts.services import issue_token
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sessions import session_cookie
from tests.fixtures.sockets import notifications_socket


def test_http_request_through_the_asgi_server(asgi_server: AsgiServer, fan: User) -> None:
    token = issue_token(fan, "script").secret

    home = httpx.get(asgi_server.url + "/")
    me = httpx.get(asgi_server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert home.status_code == 200
    assert "Content-Security-Policy" in home.headers
    assert "script-src 'self'" in home.headers["Content-Security-Policy"]
    assert me.status_code == 200
    assert me.json()["username"] == "fan"


def test_static_files_are_served_locally(asgi_server: AsgiServer) -> None:
    response = httpx.get(asgi_server.url + "/static/css/app.css")

    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]


@pytest.mark.django_db(transaction=True)
async def test_websocket_round_trip_reaches_only_its_user(
    asgi_server: AsgiServer, fan: User, stranger: User
) -> None:
    # given: the fan and a stranger each have a page open
    fan_cookie = await sync_to_async(session_cookie)(fan)
    stranger_cookie = await sync_to_async(session_cookie)(stranger)
    fan_ws = await notifications_socket(asgi_server, fan_cookie)
    stranger_ws = await notifications_socket(asgi_server, stranger_cookie)

    await fan_ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await fan_ws.recv()) == {"type": "pong"}

    # when: the platform notifies the fan, from inside a committed transaction
    def notify() -> None:
        with transaction.atomic():
            notify_user(fan.pk, "sale", amount="1000000000000000000000", token="BTT")

    await sync_to_async(notify)()

    # then: the fan's socket gets it through Redis, the stranger's gets nothing
    message = json.loads(await asyncio.wait_for(fan_ws.recv(), timeout=10))
    assert message == {"type": "sale", "amount": "1000000000000000000000", "token": "BTT"}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stranger_ws.recv(), timeout=1)
    await fan_ws.close()
    await stranger_ws.close()


@pytest.mark.django_db(transaction=True)
async def test_websocket_refuses_anonymous_and_foreign_origins(
    asgi_server: AsgiServer, fan: User
) -> None:
    with pytest.raises(websockets.InvalidStatus) as anonymous:
        await notifications_socket(asgi_server, None)
    assert anonymous.value.response.status_code == 403

    cookie = await sync_to_async(session_cookie)(fan)
    with pytest.raises(websockets.InvalidStatus) as foreign:
        await websockets.connect(
            f"ws://{asgi_server.host}:{asgi_server.port}/ws/notifications/",
            additional_headers={"Cookie": cookie},
            origin=websockets.Origin("https://evil.example"),
        )
    assert foreign.value.response.status_code == 403


def test_a_notification_is_not_sent_when_the_transaction_rolls_back(
    asgi_server: AsgiServer, fan: User
) -> None:
    async def scenario() -> None:
        ws = await notifications_socket(asgi_server, await sync_to_async(session_cookie)(fan))

        def notify_then_roll_back() -> None:
            with transaction.atomic():
                notify_user(fan.pk, "sale", amount="1")
                transaction.set_rollback(True)

        await sync_to_async(notify_then_roll_back)()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), timeout=1)
        await ws.close()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
async def test_a_socket_quiet_for_longer_than_a_redis_read_still_gets_its_message(
    asgi_server: AsgiServer, fan: User
) -> None:
    # The hub waits on Redis in one blocking read for as long as nothing is published; a read
    # timeout there (redis-py 8 gives 5 s by default) would drop every socket quiet that long.
    ws = await notifications_socket(asgi_server, await sync_to_async(session_cookie)(fan))
    await asyncio.sleep(7)

    await sync_to_async(notify_user)(fan.pk, "sale", amount="7")

    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert message == {"type": "sale", "amount": "7"}
    await ws.close()
