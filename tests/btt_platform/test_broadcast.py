"""Events to WebSocket groups through Redis pub/sub and each process's hub, on the real Redis."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from accounts.consumers import user_group
from accounts.models import User
from accounts.notifications import notify_user
from btt_platform import broadcast
from btt_platform.broadcast import CheckedMember, Hub, Member, channel_for, hub, publish_now
from tests.fixtures.servers import AsgiServer, serving
from tests.fixtures.sessions import session_cookie
from tests.fixtures.sockets import notifications_socket


class Collector(Member):
    def __init__(self) -> None:
        self.texts: asyncio.Queue[str] = asyncio.Queue()
        self.closed_with: int | None = None

    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        self.texts.put_nowait(text)

    async def close(self, code: int | bool | None = None, **kwargs: Any) -> None:
        self.closed_with = int(code) if code is not None else None


class Broken(Member):
    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        raise RuntimeError("this socket is gone")


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _subscribers(group: str) -> int:
    counts = _redis().pubsub_numsub(channel_for(group))
    return int(counts[0][1])


async def test_an_event_reaches_every_member_of_its_group_as_published_and_no_other() -> None:
    first, second, elsewhere = Collector(), Collector(), Collector()
    await first.join_broadcast("test.alpha")
    await second.join_broadcast("test.alpha")
    await elsewhere.join_broadcast("test.beta")
    try:
        heard = await sync_to_async(publish_now)("test.alpha", {"type": "alert", "seq": 1})

        assert heard == 1  # one process (this one) holds the subscription, not one per socket
        for member in (first, second):
            text = await asyncio.wait_for(member.texts.get(), 5)
            assert json.loads(text) == {"type": "alert", "seq": 1}
        assert elsewhere.texts.empty()
        await sync_to_async(publish_now)("test.beta", {"type": "other"})
        assert json.loads(await asyncio.wait_for(elsewhere.texts.get(), 5)) == {"type": "other"}
        assert first.texts.empty()
        assert second.texts.empty()
    finally:
        for member in (first, second, elsewhere):
            await member.leave_broadcast()


async def test_a_member_hears_whatever_is_published_once_joining_returns() -> None:
    # The contract consumers build on: join, then read the snapshot; nothing falls between.
    for round_ in range(20):
        member = Collector()
        await member.join_broadcast(f"test.join.{round_}")
        try:
            await sync_to_async(publish_now)(f"test.join.{round_}", {"n": round_})
            assert json.loads(await asyncio.wait_for(member.texts.get(), 5)) == {"n": round_}
        finally:
            await member.leave_broadcast()


async def test_events_between_subscribing_and_accepting_the_handshake_wait_for_the_accept() -> None:
    member = Collector()
    steps: list[str] = []
    original = member.deliver

    async def deliver(text: str, payload: dict[str, Any]) -> None:
        steps.append("delivered")
        await original(text, payload)

    async def accept() -> None:
        # An event published once subscribed, while the handshake is still being accepted.
        await sync_to_async(publish_now)("test.held", {"n": 1})
        await asyncio.sleep(0.3)
        steps.append("accepted")

    member.deliver = deliver  # type: ignore[method-assign]
    await member.join_broadcast("test.held", accept=accept)
    try:
        assert json.loads(await asyncio.wait_for(member.texts.get(), 5)) == {"n": 1}
        assert steps == ["accepted", "delivered"]
    finally:
        await member.leave_broadcast()


async def test_events_arrive_in_the_order_published() -> None:
    member = Collector()
    await member.join_broadcast("test.order")
    try:

        def publish_many() -> None:
            for n in range(200):
                publish_now("test.order", {"n": n})

        await sync_to_async(publish_many)()
        got = [json.loads(await asyncio.wait_for(member.texts.get(), 5))["n"] for _ in range(200)]
        assert got == list(range(200))
    finally:
        await member.leave_broadcast()


async def test_a_failing_socket_does_not_keep_the_event_from_the_others() -> None:
    broken, healthy = Broken(), Collector()
    await broken.join_broadcast("test.broken")
    await healthy.join_broadcast("test.broken")
    try:
        await sync_to_async(publish_now)("test.broken", {"type": "alert"})
        assert json.loads(await asyncio.wait_for(healthy.texts.get(), 5)) == {"type": "alert"}
    finally:
        await broken.leave_broadcast()
        await healthy.leave_broadcast()


async def test_a_checked_member_runs_its_checks_in_order_without_holding_up_others() -> None:
    class Slow(CheckedMember):
        def __init__(self) -> None:
            self.seen: list[int] = []

        async def broadcast_message(self, payload: dict[str, Any]) -> None:
            await asyncio.sleep(0.2 if payload["n"] == 0 else 0)  # a slow first check
            self.seen.append(payload["n"])

    slow, quick = Slow(), Collector()
    await slow.join_broadcast("test.checked")
    await quick.join_broadcast("test.checked")
    try:
        for n in range(3):
            await sync_to_async(publish_now)("test.checked", {"n": n})
        for n in range(3):
            assert json.loads(await asyncio.wait_for(quick.texts.get(), 5)) == {"n": n}
        assert slow.seen == []  # still checking the first one: the quick socket did not wait

        await asyncio.sleep(0.5)
        assert slow.seen == [0, 1, 2]
    finally:
        await slow.leave_broadcast()
        await quick.leave_broadcast()


async def test_the_last_member_leaving_unsubscribes_and_lets_the_connection_go() -> None:
    first, second = Collector(), Collector()
    await first.join_broadcast("test.leave")
    await second.join_broadcast("test.leave")
    assert await sync_to_async(_subscribers)("test.leave") == 1

    await first.leave_broadcast()
    assert await sync_to_async(_subscribers)("test.leave") == 1
    await second.leave_broadcast()

    assert await sync_to_async(_subscribers)("test.leave") == 0
    assert hub().pubsub is None
    assert hub().reader is None


def _kill_connection(of: Hub) -> int:
    client = _redis()
    killed = 0
    for entry in client.client_list(_type="pubsub"):
        if entry.get("name") == of.client_name:
            killed += int(client.client_kill_filter(_id=entry["id"]))
    return killed


def _hub_holding(group: str) -> Hub:
    # The live server's hub, on its own thread's event loop.
    return next(found for found in list(broadcast._hubs.values()) if found.local_members(group))


async def test_a_lost_redis_connection_closes_the_local_sockets_to_be_reopened() -> None:
    member = Collector()
    await member.join_broadcast("test.lost")

    assert await sync_to_async(_kill_connection)(hub()) == 1
    for _ in range(100):
        if member.closed_with is not None:
            break
        await asyncio.sleep(0.05)

    # Events published meanwhile would be lost unseen: the socket is closed so that its page
    # reconnects and reads a fresh snapshot.
    assert member.closed_with == broadcast.SERVICE_RESTART
    assert member.broadcast_group is None
    again = Collector()
    await again.join_broadcast("test.lost")  # a new connection
    try:
        await sync_to_async(publish_now)("test.lost", {"after": True})
        assert json.loads(await asyncio.wait_for(again.texts.get(), 5)) == {"after": True}
    finally:
        await again.leave_broadcast()


@pytest.mark.django_db(transaction=True)
async def test_a_browser_socket_is_closed_with_1012_when_the_servers_redis_link_breaks(
    asgi_server: AsgiServer, fan: User
) -> None:
    ws = await notifications_socket(asgi_server, await sync_to_async(session_cookie)(fan))
    await sync_to_async(notify_user)(fan.pk, "sale", amount="1")
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "sale"

    assert await sync_to_async(_kill_connection)(_hub_holding(user_group(fan.pk))) == 1

    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012
    # The page reconnects, and hears events again.
    ws = await notifications_socket(asgi_server, await sync_to_async(session_cookie)(fan))
    await sync_to_async(notify_user)(fan.pk, "sale", amount="2")
    assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "sale", "amount": "2"}
    await ws.close()


@pytest.mark.django_db(transaction=True)
def test_a_publish_failing_after_commit_is_logged_and_fails_nothing(
    fan: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: the PUBLISH after commit fails.
    monkeypatch.setattr(broadcast, "_publisher", redis.Redis.from_url("redis://127.0.0.1:1/0"))

    with transaction.atomic():
        User.objects.filter(pk=fan.pk).update(first_name="Ada")
        notify_user(fan.pk, "sale", amount="1")

    # the work is committed and the caller went on; the failure is in the log
    assert User.objects.get(pk=fan.pk).first_name == "Ada"
    assert any("on_commit" in record.getMessage() for record in caplog.records)


# --- cancellation, the reader's context, members that stop reading ---------------------------


async def test_a_join_cancelled_while_accepting_leaves_no_subscription_behind() -> None:
    # A probe or handshake cancelled by a timeout around it, after subscribing.
    accepting = asyncio.Event()

    async def accept() -> None:
        accepting.set()
        await asyncio.Event().wait()  # a handshake that never completes

    member = Collector()
    joining = asyncio.create_task(member.join_broadcast("test.cancel.accept", accept=accept))
    await asyncio.wait_for(accepting.wait(), 10)
    joining.cancel()
    with pytest.raises(asyncio.CancelledError):
        await joining

    assert hub().local_members("test.cancel.accept") == 0
    assert member.broadcast_group is None
    assert await sync_to_async(_subscribers)("test.cancel.accept") == 0
    assert hub().pubsub is None


async def test_a_join_cancelled_at_any_point_leaves_the_hub_as_it_was() -> None:
    for yields in range(12):
        group = f"test.cancel.{yields}"
        member = Collector()
        joining = asyncio.create_task(member.join_broadcast(group))
        for _ in range(yields):
            await asyncio.sleep(0)  # let the join run this far
        joining.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await joining
        assert hub().local_members(group) == 0, yields
        assert hub().members == {}, yields
        assert hub().pubsub is None, yields
        assert await sync_to_async(_subscribers)(group) == 0, yields
    # and the hub still works
    member = Collector()
    await member.join_broadcast("test.cancel.after")
    try:
        await sync_to_async(publish_now)("test.cancel.after", {"n": 1})
        assert json.loads(await asyncio.wait_for(member.texts.get(), 5)) == {"n": 1}
    finally:
        await member.leave_broadcast()


_request_value: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "_request_value", default=None
)


async def test_the_reader_and_checked_sockets_carry_nothing_of_the_request_that_joined_first() -> (
    None
):
    class Checked(CheckedMember):
        def __init__(self) -> None:
            self.seen: asyncio.Queue[str | None] = asyncio.Queue()

        async def broadcast_message(self, payload: dict[str, Any]) -> None:
            self.seen.put_nowait(_request_value.get())

    class Plain(Collector):
        async def deliver(self, text: str, payload: dict[str, Any]) -> None:
            self.texts.put_nowait(str(_request_value.get()))

    checked, plain = Checked(), Plain()

    async def a_request() -> None:
        # e.g. a health probe: the first to join in this process, then gone
        _request_value.set("the first request")
        await checked.join_broadcast("test.context")

    await asyncio.create_task(a_request())
    await plain.join_broadcast("test.context")
    try:
        await sync_to_async(publish_now)("test.context", {"n": 1})
        assert await asyncio.wait_for(checked.seen.get(), 5) is None
        assert await asyncio.wait_for(plain.texts.get(), 5) == "None"
    finally:
        await checked.leave_broadcast()
        await plain.leave_broadcast()


async def test_a_socket_that_stops_reading_is_dropped_and_the_others_hear_every_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(broadcast, "SEND_TIMEOUT", 0.2)

    class NotReading(Collector):
        async def deliver(self, text: str, payload: dict[str, Any]) -> None:
            await asyncio.Event().wait()  # its send never completes: the client reads nothing

        async def close(self, code: int | bool | None = None, **kwargs: Any) -> None:
            await super().close(code)
            closed.set()

    closed = asyncio.Event()
    stuck, healthy = NotReading(), Collector()
    await stuck.join_broadcast("test.stuck")  # first in the group's order
    await healthy.join_broadcast("test.stuck")
    try:
        for n in range(3):
            await sync_to_async(publish_now)("test.stuck", {"n": n})
        for n in range(3):
            assert json.loads(await asyncio.wait_for(healthy.texts.get(), 10)) == {"n": n}
        await asyncio.wait_for(closed.wait(), 10)
        assert stuck.closed_with == broadcast.SERVICE_RESTART
        assert stuck.broadcast_group is None
        assert hub().local_members("test.stuck") == 1
    finally:
        await stuck.leave_broadcast()
        await healthy.leave_broadcast()
    assert await sync_to_async(_subscribers)("test.stuck") == 0


@pytest.fixture
def server_without_pings(transactional_db: None) -> Iterator[AsgiServer]:
    """The live server without WebSocket keepalive pings: uvicorn's would close a page that
    stops reading after some 40 s, on its own, and hide whether the hub drops it."""
    with serving(ws_ping_interval=None, ws_ping_timeout=None) as server:
        yield server


@pytest.mark.django_db(transaction=True)
async def test_a_browser_that_stops_reading_is_dropped_and_the_users_other_page_hears_on(
    server_without_pings: AsgiServer, fan: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    asgi_server = server_without_pings
    monkeypatch.setattr(broadcast, "SEND_TIMEOUT", 0.5)
    cookie = await sync_to_async(session_cookie)(fan)

    async def open_page(max_queue: int) -> websockets.ClientConnection:
        return await websockets.connect(
            f"ws://{asgi_server.host}:{asgi_server.port}/ws/notifications/",
            additional_headers={"Cookie": cookie},
            origin=websockets.Origin(asgi_server.url),
            compression=None,  # random padding would not shrink anyway
            max_queue=max_queue,
            max_size=None,
            ping_interval=None,  # nor the client's: a ping unanswered would close it after 40 s
        )

    # the first page joins first, so the fan-out reaches it first; it never reads
    stuck = await open_page(max_queue=1)
    reading = await open_page(max_queue=16)
    group = user_group(fan.pk)
    count = 400  # ~35 MB: far beyond what the socket buffers hold for the stuck page

    async def read_all() -> list[int]:
        heard: list[int] = []
        while len(heard) < count:
            heard.append(json.loads(await reading.recv())["n"])
        return heard

    def publish_many() -> None:
        for n in range(count):
            pad = base64.b64encode(os.urandom(64 * 1024)).decode()
            publish_now(group, {"type": "bulk", "n": n, "pad": pad})

    reader = asyncio.create_task(read_all())
    try:
        await sync_to_async(publish_many)()
        assert await asyncio.wait_for(reader, 60) == list(range(count))
        assert _hub_holding(group).local_members(group) == 1  # the stuck page was dropped
    finally:
        reader.cancel()
        await reading.close()
        await stuck.close()
