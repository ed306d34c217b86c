"""Parts of pages that are the same for every visitor, rendered once and kept in the shared
cache until a fact they show changes.

A ``Kept`` holds its parts under a generation. ``forget`` moves the generation on twice: at
once, so the writer's own next request sees its change, and again once the transaction that made
the change commits. The second closes a race: a request between the first move and the commit
reads the database as it was and would keep that under the new generation. A rendering reads the
generation before it reads the database, so what it keeps after a change is kept under a
generation nobody asks for any more.

Kept parts also expire after ``keep_seconds``, which bounds what a change made while Redis was
away (or a write no signal reports) could leave behind. When Redis cannot be reached, every
request renders its part afresh.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from django.db import transaction

from btt_platform.cache import shared

log = logging.getLogger(__name__)

T = TypeVar("T")


class Kept(Generic[T]):
    def __init__(self, name: str, keep_seconds: int) -> None:
        self.name = name
        self.keep_seconds = keep_seconds
        self._generation_key = f"kept:{name}:generation"

    def get_or_render(self, part: str, render: Callable[[], T | None]) -> T | None:
        """The kept ``part``, or what ``render`` makes of it now (kept unless it is None: a
        rendering may find there is nothing to keep for every visitor). ``part`` must come from
        a bounded set: every distinct one is a key."""
        cache = shared()
        try:
            generation = cache.get_or_set(self._generation_key, secrets.token_hex(8), None)
            key = f"kept:{self.name}:{generation}:{part}"
            found: T | None = cache.get(key)
            if found is None:
                found = render()
                if found is not None:
                    cache.set(key, found, self.keep_seconds)
        except redis.RedisError as error:
            log.warning("%s rendered without the cache: %s", self.name, error)
            return render()
        return found

    def forget(self) -> None:
        """Every kept part is stale from now on, and again once the current transaction
        commits (at once, outside one)."""
        self._move_on()
        transaction.on_commit(self._move_on)

    def _move_on(self) -> None:
        try:
            shared().set(self._generation_key, secrets.token_hex(8), None)
        except redis.RedisError as error:
            log.warning(
                "%s not forgotten (kept parts expire in %ss): %s",
                self.name,
                self.keep_seconds,
                error,
            )
