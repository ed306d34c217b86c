"""A cache that keeps working while Redis is away: the rate limits count in it.

``FailoverCache`` sends every call to its primary cache (the Redis cache); when Redis cannot be
reached it answers from its fallback (a ``DatabaseCache``, table ``btt_cache``, made by
migration ``btt_platform.0002``) and leaves Redis alone for ``RETRY_SECONDS`` before trying it
again. Counts made during an outage stay in the database; a limit may then allow up to twice
its rate across the switch, never refuse a request with a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed
from django.dispatch import receiver

log = logging.getLogger(__name__)

# After a failure, Redis is left alone this long (each try would cost its connect timeout).
RETRY_SECONDS = 5.0

T = TypeVar("T")

_shared: dict[str, BaseCache] = {}
# Per primary cache, until when it is left alone after a failure. Kept for the process, not in a
# FailoverCache: Django makes one of those per request under ASGI (see ``shared``).
_down_until: dict[str, float] = {}
_down_lock = threading.Lock()


def shared(alias: str = "default") -> BaseCache:
    """The cache ``alias``, one client for the whole process.

    ``django.core.cache.caches`` is context-local: under ASGI every request gets a new client,
    and a new Redis client opens a new connection pool, so each request connected to Redis
    afresh (a third of the home page's CPU). A Redis client is thread-safe and its pool shared.
    """
    cache = _shared.get(alias)
    if cache is None:
        cache = _shared[alias] = caches.create_connection(alias)
    return cache


@receiver(setting_changed)
def _caches_changed(setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        _shared.clear()
        _down_until.clear()


class FailoverCache(BaseCache):
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = params.get("OPTIONS", {})
        self.primary_alias: str = options.get("PRIMARY", "default")
        self.fallback_alias: str = options.get("FALLBACK", "database")

    @property
    def primary(self) -> BaseCache:
        return shared(self.primary_alias)

    @property
    def fallback(self) -> BaseCache:
        return shared(self.fallback_alias)

    def primary_is_down(self) -> bool:
        return time.monotonic() < _down_until.get(self.primary_alias, 0.0)

    def reset(self) -> None:
        """Try the primary again on the next call."""
        _down_until.pop(self.primary_alias, None)

    def _call(self, method: Callable[[BaseCache], T]) -> T:
        if not self.primary_is_down():
            try:
                return method(self.primary)
            except (redis.RedisError, OSError) as error:
                with _down_lock:
                    if not self.primary_is_down():
                        log.warning(
                            "cache: Redis unreachable (%s); the database for %.0f s",
                            error,
                            RETRY_SECONDS,
                        )
                    _down_until[self.primary_alias] = time.monotonic() + RETRY_SECONDS
        return method(self.fallback)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._call(lambda cache: cache.add(key, value, timeout, version))

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call(lambda cache: cache.get(key, default, version))

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        self._call(lambda cache: cache.set(key, value, timeout, version))

    def touch(self, key: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._call(lambda cache: cache.touch(key, timeout, version))

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._call(lambda cache: cache.delete(key, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._call(lambda cache: cache.incr(key, delta, version))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._call(lambda cache: cache.has_key(key, version))

    def clear(self) -> None:
        self._call(lambda cache: cache.clear())
