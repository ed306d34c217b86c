"""Heartbeats of the long-running processes, written on a timer in each process.

``start(kind)`` runs a daemon thread that writes this process's ``Heartbeat`` row every
``HEARTBEAT_SECONDS`` (and closes its database connection in between); ``stop()`` marks it
stopped. Who starts it:

- web: the ASGI lifespan (``Lifespan`` around the application in ``btt_site.asgi``);
- worker and beat: Celery's ``worker_ready`` and ``beat_init`` signals (``btt_platform.celery``);
  the webhooks worker beats as ``webhooks`` (``celery.heartbeat_kinds``);
- watcher: ``manage.py watch_chain`` (started from ``BttPlatformConfig.ready``);
- engine: ``swarm.services.record_heartbeat`` on ``EngineNode``, as before.

/healthz reads them all in one query (``freshness``); nothing is written per request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from btt_platform.models import Heartbeat

log = logging.getLogger(__name__)

# A row nobody has written for this long is a process gone for good (a restart has a new pid).
FORGET_AFTER = timedelta(days=1)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(kind: str, name: str | None = None, *, started_at: datetime | None = None) -> None:
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        kind=kind,
        name=name or process_name(),
        defaults={"beat_at": now, "stopped_at": None},
        create_defaults={"beat_at": now, "started_at": started_at or now},
    )


def mark_stopped(kind: str, name: str | None = None) -> None:
    Heartbeat.objects.filter(kind=kind, name=name or process_name()).update(
        stopped_at=timezone.now()
    )


class Pulse(threading.Thread):
    def __init__(self, kind: str) -> None:
        super().__init__(name=f"heartbeat-{kind}", daemon=True)
        self.kind = kind
        self.beat_name = process_name()
        self.started_at = timezone.now()
        self.stopping = threading.Event()

    def run(self) -> None:
        # Started from AppConfig.ready for a command: no query before every app is ready.
        while not apps.ready:
            if self.stopping.wait(0.05):
                return
        try:
            Heartbeat.objects.filter(
                kind=self.kind, beat_at__lt=timezone.now() - FORGET_AFTER
            ).delete()
        except DatabaseError:
            log.warning("forgetting old heartbeats failed", exc_info=True)
        while True:
            try:
                beat(self.kind, self.beat_name, started_at=self.started_at)
            except Exception:
                # The next beat tries again; /healthz calls this process stale meanwhile.
                log.warning("writing the %s heartbeat failed", self.kind, exc_info=True)
            finally:
                connection.close()  # none held between beats (nor at a test database's end)
            if self.stopping.wait(settings.HEARTBEAT_SECONDS):
                break
        try:
            mark_stopped(self.kind, self.beat_name)
        except Exception:
            log.warning("marking the %s heartbeat stopped failed", self.kind, exc_info=True)
        finally:
            connection.close()


_pulses: dict[str, Pulse] = {}
_pulses_lock = threading.Lock()


def start(kind: str) -> Pulse:
    """This process's heartbeat of ``kind``, started once."""
    with _pulses_lock:
        pulse = _pulses.get(kind)
        if pulse is None or not pulse.is_alive():
            pulse = _pulses[kind] = Pulse(kind)
            pulse.start()
        return pulse


def stop(timeout: float = 5.0) -> None:
    """Stop every heartbeat of this process, marking each stopped."""
    with _pulses_lock:
        pulses = list(_pulses.values())
        _pulses.clear()
    for pulse in pulses:
        pulse.stopping.set()
    for pulse in pulses:
        if pulse is not threading.current_thread():
            pulse.join(timeout)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    kind: str
    ok: bool
    detail: str


def freshness(kinds: list[str], *, now: datetime | None = None) -> list[Freshness]:
    """Each kind of process: fresh when at least one of its processes beat within
    ``HEARTBEAT_STALE_SECONDS`` and did not stop. One query for all of them (and one more
    for engines, on their own table)."""
    # The engine keeps its heartbeat on its own row (swarm's EngineNode), looked up through the
    # app registry: the foundation imports no app above it.
    engine_nodes = apps.get_model("swarm", "EngineNode")
    now = now or timezone.now()
    stale_after = timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    rows = list(
        Heartbeat.objects.filter(kind__in=kinds, beat_at__gte=now - FORGET_AFTER).values_list(
            "kind", "name", "beat_at", "stopped_at"
        )
    )
    if "engine" in kinds:
        engine_stale = timedelta(seconds=settings.SWARM_HEARTBEAT_STALE_SECONDS)
        for name, beat_at, stopped_at in engine_nodes.objects.filter(
            last_heartbeat__gte=now - FORGET_AFTER
        ).values_list("name", "last_heartbeat", "stopped_at"):
            if beat_at is not None:
                rows.append(("engine", name, beat_at, stopped_at))
    results = []
    for kind in kinds:
        limit = engine_stale if kind == "engine" else stale_after
        mine = [row for row in rows if row[0] == kind]
        fresh = [row[1] for row in mine if row[3] is None and now - row[2] <= limit]
        if fresh:
            results.append(Freshness(kind, True, ", ".join(sorted(fresh))))
        elif not mine:
            results.append(Freshness(kind, False, "no heartbeat"))
        else:
            last = max(mine, key=lambda row: row[2])
            if last[3] is not None:
                detail = f"{last[1]} stopped"
            else:
                detail = f"{last[1]}: last heartbeat {(now - last[2]).total_seconds():.0f} s ago"
            results.append(Freshness(kind, False, detail))
    return results


# --- the web process -------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Lifespan:
    """ASGI lifespan around the application: the web process beats while it runs."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                start(Heartbeat.Kind.WEB)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(stop)
                await send({"type": "lifespan.shutdown.complete"})
                return
