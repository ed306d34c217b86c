"""Health: ``/healthz`` (cheap, public) and ``/healthz/deep`` (the round trips, authenticated).

``/healthz`` answers from the processes' heartbeats (``btt_platform.heartbeats``: web, worker,
beat, watcher, engine) and a Redis PING: one query, evaluated at most once a second per process
however many callers ask at once, with no Celery ping and no pub/sub round trip. 503 names each
process whose heartbeat is stale.

``/healthz/deep`` (staff, or ``Authorization: Bearer <HEALTH_DEEP_TOKEN>``) runs one real probe
per dependency, concurrently, each with a short timeout: the database, a Redis write and read, a
round trip through Redis pub/sub and this process's hub, a Celery ping, the engines, the TRON
node.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import httpx
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from btt_platform import heartbeats
from btt_platform.broadcast import Member, publish_now
from btt_platform.cache import shared
from btt_platform.celery import app as celery_app

PROBE_TIMEOUT = 3.0
# TRON makes a block every 3 s: a head this old means the node stopped following the chain.
TRON_HEAD_STALE_SECONDS = 60


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str


def _database() -> Probe:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Probe(True, connection.vendor)


def _redis() -> Probe:
    key = f"healthz:{uuid.uuid4().hex}"
    cache = shared()  # not a new Redis connection per health check
    cache.set(key, "1", timeout=5)
    ok = cache.get(key) == "1"
    cache.delete(key)
    return Probe(ok, "embedded" if settings.EMBEDDED_REDIS else "external")


class _Echo(Member):
    def __init__(self) -> None:
        self.heard: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        if not self.heard.done():
            self.heard.set_result(payload)


async def _broadcast() -> Probe:
    # A real round trip through Redis pub/sub and this process's hub, as every socket's
    # events take.
    group = f"healthz.{uuid.uuid4().hex}"
    echo = _Echo()
    try:
        await echo.join_broadcast(group)
        await sync_to_async(publish_now)(group, {"type": "healthz.ping"})
        payload = await echo.heard
    finally:
        await echo.leave_broadcast()
    return Probe(payload == {"type": "healthz.ping"}, "round trip")


def _celery() -> Probe:
    # A real broadcast ping: only a running worker answers it.
    replies = celery_app.control.ping(timeout=1.0)
    if not replies:
        return Probe(False, "no worker answered a ping within 1 s")
    return Probe(True, f"{len(replies)} worker(s)")


class LiveEngine(Protocol):
    name: str
    listen_address: str


# The engines' heartbeats are the swarm app's rows: it tells this module how to list the live
# ones (``SwarmConfig.ready``), since the foundation imports no app. None listed reads as down.
_live_engines: Callable[[], Sequence[LiveEngine]] = list


def list_engines_with(live_engines: Callable[[], Sequence[LiveEngine]]) -> None:
    """Install how the deep check lists the engines with a fresh heartbeat."""
    global _live_engines
    _live_engines = live_engines


def _swarm() -> Probe:
    engines = _live_engines()
    if not engines:
        return Probe(False, "no engine heartbeat in the last "
                            f"{settings.SWARM_HEARTBEAT_STALE_SECONDS} s")  # fmt: skip
    return Probe(True, ", ".join(f"{e.name} on {e.listen_address}" for e in engines))


async def _tron() -> Probe:
    headers = {"TRON-PRO-API-KEY": settings.TRON_API_KEY} if settings.TRON_API_KEY else {}
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, headers=headers) as client:
        response = await client.post(f"{settings.TRON_API_URL}/wallet/getnowblock", json={})
    response.raise_for_status()
    header = response.json().get("block_header", {}).get("raw_data")
    if not isinstance(header, dict) or "timestamp" not in header:
        return Probe(False, f"{settings.TRON_NETWORK}: no block in the node's answer")
    # java-tron leaves out fields at their default value: the genesis block has no number.
    age = time.time() - header["timestamp"] / 1000
    detail = f"{settings.TRON_NETWORK} block {header.get('number', 0)}, {age:.0f} s old"
    return Probe(age < TRON_HEAD_STALE_SECONDS, detail)


def _in_thread(probe: Callable[[], Probe]) -> Callable[[], Awaitable[Probe]]:
    # Off the request's thread, so a slow broker ping does not hold up the other probes.
    return sync_to_async(probe, thread_sensitive=False)


def _on_request_thread(probe: Callable[[], Probe]) -> Callable[[], Awaitable[Probe]]:
    # Database probes run where Django closes the request's connection when it finishes;
    # from pooled threads each probe would leave a connection open.
    return sync_to_async(probe, thread_sensitive=True)


async def _run(probe: Callable[[], Awaitable[Probe]]) -> Probe:
    try:
        return await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT)
    except TimeoutError:
        return Probe(False, f"no answer within {PROBE_TIMEOUT:.0f} s")
    except Exception as exc:  # a health probe reports every failure instead of raising it
        return Probe(False, f"{type(exc).__name__}: {exc}")


PROBES: dict[str, Callable[[], Awaitable[Probe]]] = {
    "database": _on_request_thread(_database),
    "redis": _in_thread(_redis),
    "broadcast": _broadcast,
    "celery": _in_thread(_celery),
    "swarm": _on_request_thread(_swarm),
    "tron": _tron,
}


async def _deep_allowed(request: HttpRequest) -> bool:
    token = settings.HEALTH_DEEP_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    user = await request.auser()
    return bool(user.is_authenticated and user.is_staff)


async def healthz_deep(request: HttpRequest) -> JsonResponse:
    """Every dependency probed for real (a pub/sub round trip, a Celery ping...): for staff and
    monitoring with the token, never for anyone who asks."""
    if not await _deep_allowed(request):
        return JsonResponse({"detail": "staff or the health token only"}, status=403)
    started = time.monotonic()
    results = await asyncio.gather(*(_run(probe) for probe in PROBES.values()))
    checks = {name: asdict(result) for name, result in zip(PROBES, results, strict=True)}
    healthy = all(result.ok for result in results)
    body = {
        "status": "ok" if healthy else "unhealthy",
        "checks": checks,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
    }
    return JsonResponse(body, status=200 if healthy else 503)


# --- /healthz: cheap ------------------------------------------------------------------------

# An answer is reused this long: a storm of callers costs one evaluation a second.
CACHE_SECONDS = 1.0


def _redis_ping() -> Probe:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1.0, socket_timeout=1.0
    )
    try:
        client.ping()
    finally:
        client.close()
    return Probe(True, "embedded" if settings.EMBEDDED_REDIS else "external")


def _evaluate() -> tuple[dict[str, Any], int]:
    started = time.monotonic()
    checks: dict[str, dict[str, Any]] = {}
    try:
        found = heartbeats.freshness(list(settings.HEALTH_PROCESSES))
    except Exception as exc:  # the database is down: every heartbeat is unknown
        checks["database"] = asdict(Probe(False, f"{type(exc).__name__}: {exc}"))
    else:
        checks["database"] = asdict(Probe(True, connection.vendor))
        for item in found:
            checks[item.kind] = asdict(Probe(item.ok, item.detail))
    try:
        checks["redis"] = asdict(_redis_ping())
    except Exception as exc:
        checks["redis"] = asdict(Probe(False, f"{type(exc).__name__}: {exc}"))
    stale = [name for name, check in checks.items() if not check["ok"]]
    body = {
        "status": "unhealthy" if stale else "ok",
        "checks": checks,
        "stale": stale,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
    }
    return body, 503 if stale else 200


_answer: tuple[float, dict[str, Any], int] | None = None
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _recent() -> tuple[dict[str, Any], int] | None:
    if _answer is not None and time.monotonic() - _answer[0] < CACHE_SECONDS:
        return _answer[1], _answer[2]
    return None


def forget_answer() -> None:
    """The next call evaluates afresh (tests that change a heartbeat)."""
    global _answer
    _answer = None


async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every process beats and Redis answers; 503 naming what does not."""
    global _answer
    answer = _recent()
    if answer is None:
        loop = asyncio.get_running_loop()
        lock = _locks.get(loop)
        if lock is None:
            lock = _locks[loop] = asyncio.Lock()
        async with lock:  # one evaluation; the callers waiting meanwhile take its answer
            answer = _recent()
            if answer is None:
                # On the request's thread, where Django closes its database connection after.
                answer = await sync_to_async(_evaluate, thread_sensitive=True)()
                _answer = (time.monotonic(), *answer)
    body, status = answer
    return JsonResponse(body, status=status)
