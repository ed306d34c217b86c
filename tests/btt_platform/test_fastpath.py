"""What the tracker's and the web seed's fast paths share: the decision cache and the ORM hop."""

from __future__ import annotations

import asyncio

import pytest
from django.db import OperationalError

from btt_platform import fastpath
from btt_platform.fastpath import AuthCache, in_database


class Loads:
    """A load that counts its calls and returns (or raises) when the test says so."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.error: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return f"decision {self.calls}"


async def test_concurrent_misses_share_one_load() -> None:
    # given
    cache: AuthCache[str, str] = AuthCache(60, max_entries=10)
    load = Loads()

    # when: a hundred requests miss the same key together
    waiting = [asyncio.ensure_future(cache.get("key", load)) for _ in range(100)]
    await asyncio.sleep(0)
    load.release.set()

    # then
    assert await asyncio.gather(*waiting) == ["decision 1"] * 100
    assert load.calls == 1
    assert await cache.get("key", load) == "decision 1"
    assert load.calls == 1


async def test_a_request_that_goes_away_does_not_cancel_the_load_others_wait_on() -> None:
    # given: two requests wait on one load
    cache: AuthCache[str, str] = AuthCache(60, max_entries=10)
    load = Loads()
    first = asyncio.ensure_future(cache.get("key", load))
    second = asyncio.ensure_future(cache.get("key", load))
    await asyncio.sleep(0)

    # when: the one that started it is cancelled (its client hung up)
    first.cancel()
    load.release.set()

    # then: the other still gets the value, and it is kept
    assert await second == "decision 1"
    assert first.cancelled()
    assert await cache.get("key", load) == "decision 1"
    assert load.calls == 1


async def test_a_failed_load_reaches_its_waiters_and_is_not_kept() -> None:
    # given
    cache: AuthCache[str, str] = AuthCache(60, max_entries=10)
    load = Loads()
    load.error = OperationalError("the database restarted")

    # when
    waiting = [asyncio.ensure_future(cache.get("key", load)) for _ in range(3)]
    await asyncio.sleep(0)
    load.release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)

    # then: one lookup, its error for all three, and the next request asks again
    assert [type(outcome) for outcome in outcomes] == [OperationalError] * 3
    assert load.calls == 1
    load.error = None
    assert await cache.get("key", load) == "decision 2"


async def test_values_expire_and_nothing_is_kept_for_zero_seconds() -> None:
    seconds = 0.01
    cache: AuthCache[str, str] = AuthCache(lambda: seconds, max_entries=10)
    load = Loads()
    load.release.set()

    assert await cache.get("key", load) == "decision 1"
    await asyncio.sleep(0.02)
    assert await cache.get("key", load) == "decision 2"

    seconds = 0  # read at every store, as a setting is
    await asyncio.sleep(0.02)
    assert await cache.get("key", load) == "decision 3"
    assert await cache.get("key", load) == "decision 4"


async def test_forget_and_clear_drop_values() -> None:
    # given: two caches, as the tracker and the web seed hold them
    passkeys: AuthCache[tuple[str, str], str] = AuthCache(60, max_entries=10)
    tokens: AuthCache[str, str] = AuthCache(60, max_entries=10)
    load = Loads()
    load.release.set()
    await passkeys.get(("old", "a"), load)
    await passkeys.get(("other", "a"), load)
    await tokens.get("token", load)

    # when: one passkey is forgotten
    passkeys.forget(lambda key: key[0] == "old")

    # then: only its values are asked again
    assert await passkeys.get(("old", "a"), load) == "decision 4"
    assert await passkeys.get(("other", "a"), load) == "decision 2"

    # when: everything is cleared
    fastpath.clear()

    # then: every cache asks again
    assert await passkeys.get(("other", "a"), load) == "decision 5"
    assert await tokens.get("token", load) == "decision 6"


async def test_a_full_cache_drops_expired_values_first_then_everything() -> None:
    seconds = 60.0
    cache: AuthCache[str, str] = AuthCache(lambda: seconds, max_entries=3)
    load = Loads()
    load.release.set()
    seconds = 0.01
    await cache.get("brief", load)  # decision 1, soon expired
    seconds = 60.0
    await cache.get("a", load)  # decision 2
    await cache.get("b", load)  # decision 3
    await asyncio.sleep(0.02)

    # when: a fourth key arrives, the expired one makes room
    await cache.get("c", load)  # decision 4
    assert [await cache.get(key, load) for key in "abc"] == [
        "decision 2",
        "decision 3",
        "decision 4",
    ]

    # when: a fifth arrives with nothing expired (made-up keys), the cache starts over
    await cache.get("d", load)  # decision 5
    assert await cache.get("a", load) == "decision 6"
    assert await cache.get("d", load) == "decision 5"


async def test_the_database_hop_retries_once_on_a_broken_connection() -> None:
    calls: list[int] = []

    def flaky(answer: int) -> int:
        calls.append(answer)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return answer

    assert await in_database(flaky, 42) == 42
    assert calls == [42, 42]

    def broken() -> None:
        raise OperationalError("the database is down")

    with pytest.raises(OperationalError):
        await in_database(broken)
