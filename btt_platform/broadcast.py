"""Events pushed to groups of WebSockets (an invoice's page, a creator's overlay...), through
Redis pub/sub.

Publishing: ``broadcast(group, payload)`` encodes the payload once and PUBLISHes it after the
current transaction commits, from any process (web, worker, watcher).

Receiving: each web process (each event loop) holds one Redis pub/sub connection, a ``Hub``,
subscribed to the groups that have sockets in that process. A message is read once and its
text, as published, goes straight to every local socket of the group in turn: no per-socket
queue, task switch or JSON encoding, which is what lets one tip alert reach thousands of
overlays at once (bench/tip_fanout.py). Sockets that must check something per message first
(may this viewer still see the invoice?) take it through their own ordered queue
(``CheckedMember``), so their database round trip holds up no one else.

Pub/sub delivers to whoever is subscribed at that moment and keeps nothing. A socket's
subscription is confirmed before its handshake is accepted (events in between are held for it)
and consumers read their snapshot after that, so nothing falls between the two; if the
process's Redis connection breaks, every local socket is closed with 1012 (service restart),
and clients reconnect and catch up from a fresh snapshot instead of silently missing events.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aredis
from django.conf import settings
from django.db import transaction
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

log = logging.getLogger(__name__)

# A WebSocket close code: the server is restarting its side, try again (RFC 6455 registry).
SERVICE_RESTART = 1012
JOIN_TIMEOUT = 10.0
# The longest one socket may take to take a message: a client that stops reading would
# otherwise hold up every later member of its group (and every later message). It is dropped
# and closed instead.
SEND_TIMEOUT = 5.0
CLIENT_NAME_PREFIX = "broadcast-"


@functools.lru_cache(maxsize=4)
def _database_number(url: str) -> int:
    # Pub/sub channels are server-wide, not per database number: sites (or test runs) sharing
    # a Redis server on different database numbers must not hear each other's events.
    return int(parse_url(url).get("db", 0))  # type: ignore[no-untyped-call]


def channel_for(group: str) -> str:
    return f"{settings.BROADCAST_PREFIX}:{_database_number(settings.REDIS_URL)}:{group}"


def _encode(payload: Mapping[str, Any]) -> str:
    # Encoded where it is made, so a payload that is not JSON fails there, not in a socket.
    return json.dumps(payload)


_publisher: redis.Redis | None = None


def _publisher_client() -> redis.Redis:
    global _publisher
    if _publisher is None:
        _publisher = redis.Redis.from_url(settings.REDIS_URL)
    return _publisher


def publish_now(group: str, payload: Mapping[str, Any]) -> int:
    """Publish at once (outside any transaction); the number of processes that heard it."""
    heard: int = _publisher_client().publish(channel_for(group), _encode(payload))
    return heard


def broadcast(group: str, payload: Mapping[str, Any]) -> None:
    """Send ``payload`` to every socket in ``group`` once the current transaction commits."""
    text = _encode(payload)
    channel = channel_for(group)
    # robust: what happened is committed already; a Redis failure here is logged (and /healthz
    # turns red) instead of failing the caller's work after the fact.
    # A function, not a partial: Django logs a robust callback's failure by its __qualname__.
    transaction.on_commit(lambda: _after_commit(channel, text), robust=True)


# Per thread: the events of a ``batched()`` block, committed and waiting for its end.
_batch = threading.local()


def _after_commit(channel: str, text: str) -> None:
    pending: list[tuple[str, str]] | None = getattr(_batch, "pending", None)
    if pending is not None:
        pending.append((channel, text))
    else:
        _publisher_client().publish(channel, text)


@contextmanager
def batched() -> Iterator[None]:
    """Hold the events committed inside this block and publish them at its end, in order, in
    one round trip to Redis (the chain watcher's block of a hundred payments: one PUBLISH each
    was a round trip each, and a busy machine stretched every one of them).

    Only committed events are held (``broadcast`` still waits for the commit, so a transaction
    or savepoint rolled back publishes nothing), and they go out even when the block ends with
    an exception: what was committed happened. Nested blocks publish with the outermost."""
    if getattr(_batch, "pending", None) is not None:
        yield
        return
    _batch.pending = []
    try:
        yield
    finally:
        pending, _batch.pending = _batch.pending, None
        if pending:
            _publish_all(pending)


def _publish_all(pending: list[tuple[str, str]]) -> None:
    try:
        pipe = _publisher_client().pipeline(transaction=False)
        for channel, text in pending:
            pipe.publish(channel, text)
        pipe.execute()
    except redis.RedisError:
        # As ``on_commit(robust=True)`` does for a single event: logged, never raised.
        log.exception("publishing %d events failed", len(pending))


class Member:
    """A socket in a group. Mixed into a Channels WebSocket consumer (which has ``send``)."""

    broadcast_group: str | None = None

    if TYPE_CHECKING:  # the consumer's own

        async def send(self, text_data: str | None = None, **kwargs: Any) -> None: ...

        async def close(self, code: int | bool | None = None, **kwargs: Any) -> None: ...

    async def join_broadcast(
        self, group: str, *, accept: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Join ``group``, then ``accept`` the handshake; read the snapshot after this returns.

        Once the client sees the handshake accepted it hears every later event: the
        subscription is confirmed before ``accept``, and events arriving in between are held
        and sent right after it."""
        self.broadcast_group = group
        try:
            await hub().join(group, self, accept)
        except BaseException:
            self.broadcast_group = None
            raise

    async def leave_broadcast(self) -> None:
        if self.broadcast_group is not None:
            group, self.broadcast_group = self.broadcast_group, None
            await hub().leave(group, self)

    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        """One message for this socket, called in the order published. The text as published
        goes out as is; override to look at the payload first."""
        await self.send(text_data=text)


class CheckedMember(Member):
    """A member that runs ``broadcast_message`` (with its per-socket checks) for each message,
    in order, in a task of its own."""

    _inbox: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
    _worker: asyncio.Task[None] | None = None

    async def broadcast_message(self, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    async def broadcast_messages(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """The messages waiting for this socket, as (text as published, payload), oldest
        first: ``broadcast_message`` for each. Override to check once for all of them (they
        all arrived before the check starts, so it is as fresh as one check per message)."""
        for _text, payload in messages:
            try:
                await self.broadcast_message(payload)
            except Exception:
                log.exception("broadcast to a socket failed")

    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        if self._inbox is None:
            self._inbox = asyncio.Queue()
            # Called from the hub's reader: a fresh context, so that nothing of whichever
            # request happened to start the reader (its thread-sensitive executor...) lives on
            # in this socket's checks.
            self._worker = asyncio.get_running_loop().create_task(
                self._work(self._inbox), context=contextvars.Context()
            )
        self._inbox.put_nowait((text, payload))

    async def _work(self, inbox: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        while True:
            messages = [await inbox.get()]
            # A block's events come together (a payment, then the state it moved to): one
            # check of the socket for all of them instead of one database round trip each.
            while not inbox.empty():
                messages.append(inbox.get_nowait())
            try:
                await self.broadcast_messages(messages)
            except Exception:
                log.exception("broadcast to a socket failed")

    async def leave_broadcast(self) -> None:
        await super().leave_broadcast()
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None


class Hub:
    """One event loop's pub/sub connection and the local members of each group."""

    def __init__(self) -> None:
        # Per channel, its members: None once joined, or the events held for a member still
        # joining (subscribed, its handshake not yet accepted).
        self.members: dict[str, dict[Member, list[tuple[str, dict[str, Any]]] | None]] = {}
        self.confirmed: dict[str, asyncio.Future[None]] = {}
        self.lock = asyncio.Lock()
        self.pubsub: aredis.client.PubSub | None = None
        self.reader: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def join(
        self,
        group: str,
        member: Member,
        accept: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        channel = channel_for(group)
        held: list[tuple[str, dict[str, Any]]] = []
        try:
            # Shielded: the bookkeeping (and the SUBSCRIBE on the wire) completes as a whole
            # even when the caller is cancelled, so that the clean-up below finds it complete.
            confirmed = await asyncio.shield(self._add(channel, member, held))
            # Once Redis confirms the subscription every later PUBLISH reaches this process.
            await asyncio.wait_for(asyncio.shield(confirmed), JOIN_TIMEOUT)
            if accept is not None:
                await accept()
            while held:
                text, payload = held.pop(0)
                await member.deliver(text, payload)
        except BaseException:
            # Cancelled (a timeout around the caller, a client gone mid-handshake) or failed:
            # the member must not stay behind, holding its channel's subscription for ever.
            await asyncio.shield(self._remove(channel, member))
            raise
        members = self.members.get(channel)
        if members is not None and member in members:  # not lost meanwhile
            members[member] = None

    async def _add(
        self, channel: str, member: Member, held: list[tuple[str, dict[str, Any]]]
    ) -> asyncio.Future[None]:
        async with self.lock:
            if channel not in self.members:
                self.members[channel] = {}
                self.confirmed[channel] = asyncio.get_running_loop().create_future()
                await self._subscribe(channel)
            self.members[channel][member] = held
            return self.confirmed[channel]

    async def leave(self, group: str, member: Member) -> None:
        # Shielded like joining: a leave cancelled halfway would leak the subscription.
        await asyncio.shield(self._remove(channel_for(group), member))

    async def _remove(self, channel: str, member: Member) -> None:
        async with self.lock:
            members = self.members.get(channel)
            if members is None:
                return
            members.pop(member, None)
            if members:
                return
            del self.members[channel]
            confirmed = self.confirmed.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.cancel()
            if self.pubsub is None:
                return
            if self.members:
                # A broken connection is the reader's to notice.
                with suppress(redis.RedisError, OSError):
                    await self.pubsub.unsubscribe(channel)
            else:
                # The last group gone: no connection held (nor a task left behind when an
                # event loop ends, as in each test).
                await self._disconnect()

    async def _disconnect(self) -> None:
        pubsub, reader = self.pubsub, self.reader
        self.pubsub, self.reader = None, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        if pubsub is not None:
            try:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            except Exception:
                log.debug("closing the pub/sub connection failed", exc_info=True)

    @property
    def client_name(self) -> str:
        return f"{CLIENT_NAME_PREFIX}{os.getpid()}-{id(self):x}"

    def local_members(self, group: str) -> int:
        return len(self.members.get(channel_for(group), ()))

    async def _subscribe(self, channel: str) -> None:
        if self.pubsub is None:
            # No read timeout (a quiet group is normal) and no silent reconnect: a lost
            # connection must be noticed, as it lost messages.
            client = aredis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=None,
                retry=Retry(NoBackoff(), 0),
                # Named, to be found in CLIENT LIST: one per web process (per event loop).
                client_name=self.client_name,
            )
            self.pubsub = client.pubsub()
        await self.pubsub.subscribe(channel)
        if self.reader is None:
            # Not a child of whichever request joined first: the reader serves every socket of
            # this loop for as long as it has groups, so it must carry nothing of that request
            # (its context variables, its thread-sensitive executor) along.
            self.reader = asyncio.get_running_loop().create_task(
                self._read(self.pubsub), context=contextvars.Context()
            )

    async def _read(self, pubsub: aredis.client.PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                channel = message["channel"].decode()
                if message["type"] == "subscribe":
                    confirmed = self.confirmed.get(channel)
                    if confirmed is not None and not confirmed.done():
                        confirmed.set_result(None)
                elif message["type"] == "message":
                    await self._fan_out(channel, message["data"].decode())
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("broadcast connection to Redis lost: %s", error)
            await self._lost(pubsub)

    async def _fan_out(self, channel: str, text: str) -> None:
        members = self.members.get(channel)
        if not members:
            return
        payload = json.loads(text)
        for member, held in list(members.items()):
            if held is not None:
                held.append((text, payload))
                continue
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await member.deliver(text, payload)
            except TimeoutError:
                # A client that stopped reading: dropped, so the others (and the next
                # messages) do not wait on it; it reconnects and reads a fresh snapshot.
                log.info("dropping a socket that took no message for %.0f s", SEND_TIMEOUT)
                self._drop(channel, member)
            except Exception:
                # A socket already closing: it leaves when its disconnect is handled.
                log.debug("broadcast to a closing socket dropped", exc_info=True)

    def _drop(self, channel: str, member: Member) -> None:
        members = self.members.get(channel)
        if members is not None:
            members.pop(member, None)
        member.broadcast_group = None
        # Closed off the reader's path (closing a stuck socket may block as well), and left
        # out of its group at once; the last member gone unsubscribes.
        task = asyncio.get_running_loop().create_task(
            self._close_dropped(channel, member), context=contextvars.Context()
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_dropped(self, channel: str, member: Member) -> None:
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await member.close(code=SERVICE_RESTART)
        except Exception:
            log.debug("closing a socket that stopped reading failed", exc_info=True)
        await self._remove(channel, member)

    async def _lost(self, pubsub: aredis.client.PubSub) -> None:
        async with self.lock:
            if self.pubsub is not pubsub:
                return  # already replaced
            self.pubsub, self.reader = None, None
            stranded = [member for members in self.members.values() for member in members]
            for confirmed in self.confirmed.values():
                if not confirmed.done():
                    confirmed.set_exception(ConnectionError("Redis connection lost"))
            self.members.clear()
            self.confirmed.clear()
        for member in stranded:
            member.broadcast_group = None
            try:
                await member.close(code=SERVICE_RESTART)
            except Exception:
                log.debug("closing a socket after a lost connection failed", exc_info=True)
        try:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        except Exception:
            log.debug("closing the lost pub/sub connection failed", exc_info=True)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This event loop's hub (each loop has its own connection, as asyncio requires)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub()
    return found
