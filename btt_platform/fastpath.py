"""What the ASGI fast paths share: the tracker and the web seed answer before Django does.

They skip Django's middleware and request cycle for speed, so whatever of those still matters
is redone here: the HTTPS redirect (``secure_enough``), the upkeep of the database connection
(``in_database``), and decisions kept for a few seconds (``AuthCache``), so that most requests
reach no database at all.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from typing import Any, Generic, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

# The ASGI interface, loosely typed (as Starlette does): messages are plain dicts.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

P = ParamSpec("P")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def secure_enough(scope: Scope) -> bool:
    """False when Django would redirect this request to HTTPS (SECURE_SSL_REDIRECT).

    Such requests go on to Django, whose SecurityMiddleware answers with the redirect.
    """
    if not settings.SECURE_SSL_REDIRECT or scope.get("scheme") == "https":
        return True
    proxy_header: tuple[str, str] | None = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header is None:
        return False
    name, secure_value = proxy_header
    wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    for raw_name, raw_value in scope["headers"]:
        if raw_name.lower() == wanted:
            return bool(raw_value.decode("latin-1").split(",")[0].strip() == secure_value)
    return False


# --- the database hop -------------------------------------------------------------------------

_queued = 0
_queued_lock = threading.Lock()


async def in_database(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``function`` (ORM work) on Django's thread for sync code, minding the connection.

    Outside Django's request cycle (the fast paths) no request signals close connections, so
    this does what they do, with one difference: while more lookups are queued the connection
    stays open for them — a new one per lookup costs more than the lookup (a few ms on
    PostgreSQL) — and once none are, it is closed or kept as CONN_MAX_AGE says. A connection
    that broke (a database restart) is replaced and the work retried once.
    """
    global _queued
    with _queued_lock:
        _queued += 1
    try:
        return await sync_to_async(_run_minding_connection)(function, *args, **kwargs)
    finally:
        with _queued_lock:
            _queued -= 1


def _run_minding_connection(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:  # a caller's transaction (or a test's): leave it be
        return function(*args, **kwargs)
    try:
        return function(*args, **kwargs)
    except (InterfaceError, OperationalError):
        connection.close()
        return function(*args, **kwargs)
    finally:
        with _queued_lock:
            last = _queued <= 1
        if last:
            connection.close_if_unusable_or_obsolete()


# --- decisions kept for a few seconds -----------------------------------------------------------

# Every cache made, for ``clear``.
_caches: weakref.WeakSet[AuthCache[Any, Any]] = weakref.WeakSet()


class AuthCache(Generic[K, V]):
    """Values kept for ``seconds`` after their load; concurrent misses of one key share one load.

    Per process, touched from event loops only. A change (a revoked passkey, a takedown) reaches
    a cached decision within ``seconds``; callers whose decisions carry their own end (a grant's
    ``until``) check that end on every use. When a popular key expires, its hundreds of
    requests cost one lookup, not one each: the load runs in a task of its own, which those
    requests await together and which none of them cancels by going away (it is shielded).
    They all get its value, or its error.
    """

    def __init__(self, seconds: float | Callable[[], float], max_entries: int) -> None:
        """``seconds``: how long a value is reused, or a callable read at each store (a
        setting); 0 or less keeps nothing. ``max_entries`` bounds the memory garbage keys
        (made-up passkeys, tokens, infohashes) can take."""
        self._seconds = seconds
        self._max_entries = max_entries
        self._values: dict[K, tuple[float, V]] = {}
        # Per event loop: a task belongs to the loop that runs it (uvicorn runs one loop,
        # Django's sync test client a fresh one per request).
        self._loading: dict[tuple[asyncio.AbstractEventLoop, K], asyncio.Task[V]] = {}
        _caches.add(self)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value kept for ``key``, else what ``load()`` gives (kept for next time)."""
        cached = self._values.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        slot = (asyncio.get_running_loop(), key)
        task = self._loading.get(slot)
        if task is None:
            task = self._loading[slot] = asyncio.create_task(self._load(slot, load))
        return await asyncio.shield(task)

    async def _load(
        self, slot: tuple[asyncio.AbstractEventLoop, K], load: Callable[[], Awaitable[V]]
    ) -> V:
        try:
            value = await load()
        finally:
            if self._loading.get(slot) is asyncio.current_task():
                del self._loading[slot]
        self._keep(slot[1], value)
        return value

    def _keep(self, key: K, value: V) -> None:
        seconds = self._seconds() if callable(self._seconds) else self._seconds
        if seconds <= 0:
            return
        now = time.monotonic()
        if len(self._values) >= self._max_entries:
            for stale in [k for k, (until, _) in self._values.items() if until <= now]:
                del self._values[stale]
            if len(self._values) >= self._max_entries:
                self._values.clear()
        self._values[key] = (now + seconds, value)

    def forget(self, matches: Callable[[K], bool]) -> None:
        """Drop the values whose key ``matches``: their next request loads afresh."""
        for key in [key for key in self._values if matches(key)]:
            del self._values[key]

    def clear(self) -> None:
        """Drop every value kept."""
        self._values.clear()


def clear() -> None:
    """Drop every value of every ``AuthCache`` in this process: the next request of each key
    asks the database."""
    for cache in list(_caches):
        cache.clear()
