"""/healthz answers from the processes' heartbeats, cheaply; /healthz/deep probes every
dependency for real."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from btt_platform import broadcast, health, heartbeats
from btt_platform.celery import app as celery_app
from btt_platform.celery import heartbeat_kinds
from btt_platform.models import Heartbeat
from creators.models import Creator
from payments.crediting import record_transfer
from swarm.models import EngineNode
from tests.fixtures.devnet import Devnet
from tests.fixtures.processes import Child, process_environment, start_child, wait_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sessions import session_cookie
from tests.payments.factories import paying, proven, purchase

PROCESSES = {"web", "worker", "webhooks", "beat", "watcher", "engine"}
# The storms' clients drop an idle connection after 1 s, well inside uvicorn's 5-s keep-alive:
# with both at 5 s (httpx's and uvicorn's defaults), a round slow enough on a loaded machine
# left connections idle that long, and the next round sent a request on one the server was
# closing (a ReadError, no answer and no error on the server).
CALLERS = httpx.Limits(keepalive_expiry=1.0)


@pytest.fixture(autouse=True)
def _fresh_answer() -> Iterator[None]:
    health.forget_answer()
    yield
    health.forget_answer()


def health_of(client: Client, path: str = "/healthz") -> tuple[int, dict[str, Any]]:
    health.forget_answer()
    response = client.get(path)
    return response.status_code, response.json()


def everyone_beating(but: str | None = None) -> None:
    """Fresh heartbeats of every process (but one): again during a slow test, whose start and
    stop of a real process can outlast the engine's 10 s of freshness on a busy machine."""
    for kind in ("web", "worker", "webhooks", "beat", "watcher"):
        if kind != but:
            heartbeats.beat(kind, f"test-{kind}")
    EngineNode.objects.update_or_create(
        name="test-engine", defaults={"last_heartbeat": timezone.now()}
    )


# --- /healthz --------------------------------------------------------------------------------


def test_all_processes_beating_is_200_with_every_process_named(db: None) -> None:
    everyone_beating()

    status, body = health_of(Client())

    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == PROCESSES | {"database", "redis"}
    assert all(check["ok"] for check in body["checks"].values()), body
    assert body["stale"] == []
    assert body["checks"]["watcher"]["detail"] == "test-watcher"
    assert isinstance(body["elapsed_ms"], int)


def test_a_stale_watcher_heartbeat_is_503_naming_the_watcher(db: None) -> None:
    # The chain watcher died: payments would silently stop being credited.
    everyone_beating()
    long_ago = timezone.now() - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 1)
    Heartbeat.objects.filter(kind="watcher").update(beat_at=long_ago)

    status, body = health_of(Client())

    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["stale"] == ["watcher"]
    assert body["checks"]["watcher"]["ok"] is False
    assert "test-watcher: last heartbeat" in body["checks"]["watcher"]["detail"]
    assert all(body["checks"][name]["ok"] for name in PROCESSES - {"watcher"})


def test_a_process_never_seen_or_stopped_cleanly_is_named(db: None) -> None:
    everyone_beating()
    Heartbeat.objects.filter(kind="beat").delete()
    heartbeats.mark_stopped("worker", "test-worker")
    EngineNode.objects.update(stopped_at=timezone.now())

    status, body = health_of(Client())

    assert status == 503
    assert body["stale"] == ["worker", "beat", "engine"]
    assert body["checks"]["beat"]["detail"] == "no heartbeat"
    assert body["checks"]["worker"]["detail"] == "test-worker stopped"


def test_the_webhooks_worker_does_not_stand_in_for_a_dead_worker(db: None) -> None:
    # The worker that hashes uploads and sends emails died; the webhooks worker still beats.
    everyone_beating()
    heartbeats.mark_stopped("worker", "test-worker")

    status, body = health_of(Client())

    assert status == 503
    assert body["stale"] == ["worker"]
    assert body["checks"]["webhooks"] == {"ok": True, "detail": "test-webhooks"}


@pytest.mark.parametrize(
    ("queues", "kinds"),
    [
        (["celery"], ["worker"]),
        (["webhooks"], ["webhooks"]),
        (["celery", "webhooks"], ["worker", "webhooks"]),
        (["other"], ["worker"]),
    ],
)
def test_a_worker_beats_as_the_kinds_of_the_queues_it_consumes(
    queues: list[str], kinds: list[str]
) -> None:
    assert heartbeat_kinds(queues) == kinds


def test_healthz_pings_no_worker_and_joins_no_group(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    everyone_beating()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("/healthz must not do this")

    monkeypatch.setattr(celery_app.control, "ping", refuse)
    monkeypatch.setattr(broadcast.Hub, "join", refuse)
    monkeypatch.setattr(broadcast, "publish_now", refuse)

    assert health_of(Client())[0] == 200


def test_redis_down_is_reported_not_raised(settings: SettingsWrapper, db: None) -> None:
    everyone_beating()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    status, body = health_of(Client())

    assert status == 503
    assert body["stale"] == ["redis"]
    assert body["checks"]["database"]["ok"] is True


def _server_pubsub_clients() -> list[dict[str, Any]]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = f"{broadcast.CLIENT_NAME_PREFIX}{os.getpid()}-"
    return [
        entry
        for entry in client.client_list(_type="pubsub")
        if str(entry.get("name", "")).startswith(prefix)
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_storm_of_health_checks_all_answer_and_invoice_sockets_still_hear(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    await sync_to_async(everyone_beating)()

    # 50 callers at once, five times over
    async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30, limits=CALLERS) as client:
        for _ in range(5):
            answers = await asyncio.gather(*(client.get("/healthz") for _ in range(50)))
            assert [answer.status_code for answer in answers] == [200] * 50

    # no subscription was made for them, nor left behind
    assert await sync_to_async(_server_pubsub_clients)() == []
    assert not any(found.members for found in list(broadcast._hubs.values()))

    # and an invoice page opened now hears its payment
    invoice = await sync_to_async(purchase)(fan, creator)
    socket = await websockets.connect(
        f"ws://{asgi_server.host}:{asgi_server.port}/ws/invoice/{invoice.pk}/",
        additional_headers={"Cookie": await sync_to_async(session_cookie)(fan)},
        origin=websockets.Origin(asgi_server.url),
    )
    try:
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["event"] == "snapshot"
        transfer = await sync_to_async(proven)(*paying(invoice))
        await sync_to_async(record_transfer)(transfer, solidified=False)
        heard = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (heard["event"], heard["txid"]) == ("payment", transfer.txid)
    finally:
        await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_deep_checks_cut_short_mid_join_leave_no_subscription_behind(
    asgi_server: AsgiServer,
    fan: User,
    creator: Creator,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Probes timing out at once: each round trip's join is cancelled wherever it got to.
    settings.HEALTH_DEEP_TOKEN = "monitoring"
    monkeypatch.setattr(health, "PROBE_TIMEOUT", 0.005)
    headers = {"Authorization": "Bearer monitoring"}
    async with httpx.AsyncClient(
        base_url=asgi_server.url, timeout=30, headers=headers, limits=CALLERS
    ) as client:
        for _ in range(3):
            answers = await asyncio.gather(*(client.get("/healthz/deep") for _ in range(50)))
            assert {answer.status_code for answer in answers} <= {200, 503}

    def settled() -> bool:
        return not any(found.members for found in list(broadcast._hubs.values())) and not (
            _server_pubsub_clients()
        )

    await sync_to_async(wait_for)(settled, 30, "the cut-short joins to be taken back")
    invoice = await sync_to_async(purchase)(fan, creator)
    socket = await websockets.connect(
        f"ws://{asgi_server.host}:{asgi_server.port}/ws/invoice/{invoice.pk}/",
        additional_headers={"Cookie": await sync_to_async(session_cookie)(fan)},
        origin=websockets.Origin(asgi_server.url),
    )
    try:
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["event"] == "snapshot"
        transfer = await sync_to_async(proven)(*paying(invoice))
        await sync_to_async(record_transfer)(transfer, solidified=False)
        heard = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (heard["event"], heard["txid"]) == ("payment", transfer.txid)
    finally:
        await socket.close()


# --- the processes write their heartbeats ----------------------------------------------------


def test_a_real_worker_beats_and_marks_itself_stopped(
    celery_worker: Child, settings: SettingsWrapper
) -> None:
    wait_for(
        lambda: Heartbeat.objects.filter(kind="worker", stopped_at__isnull=True).exists(),
        what="the worker's heartbeat",
    )
    celery_worker.stop(signal.SIGTERM)
    wait_for(
        lambda: not Heartbeat.objects.filter(kind="worker", stopped_at__isnull=True).exists(),
        what="the worker marked stopped",
    )


@pytest.mark.processes
def test_a_real_beat_beats_and_marks_itself_stopped(transactional_db: None, tmp_path: Path) -> None:
    beat = start_child(
        "beat",
        [sys.executable, "-m", "celery", "-A", "btt_platform", "beat", "--loglevel=INFO",
         "--schedule", str(tmp_path / "celerybeat-schedule")],
        process_environment(HEARTBEAT_SECONDS="1"),
        tmp_path,
    )  # fmt: skip
    try:
        wait_for(
            lambda: (
                beat.process.poll() is not None
                or Heartbeat.objects.filter(kind="beat", stopped_at__isnull=True).exists()
            ),
            timeout=60,
            what="beat's heartbeat",
        )
        assert beat.process.poll() is None, beat.output()
    finally:
        beat.stop(signal.SIGTERM)
    wait_for(
        lambda: Heartbeat.objects.filter(kind="beat", stopped_at__isnull=False).exists(),
        what="beat marked stopped",
    )


def test_the_chain_watcher_beats_and_healthz_names_it_once_it_stops(
    tron_node: Devnet, transactional_db: None, tmp_path: Path
) -> None:
    everyone_beating()
    Heartbeat.objects.filter(kind="watcher").delete()
    watcher = start_child(
        "watcher",
        [sys.executable, "manage.py", "watch_chain"],
        process_environment(TRON_API_URL=tron_node.url, HEARTBEAT_SECONDS="1"),
        tmp_path,
    )
    try:
        wait_for(
            lambda: (
                watcher.process.poll() is not None
                or (
                    # beating, and watching (its stop signal handled)
                    Heartbeat.objects.filter(kind="watcher").exists()
                    and "watching devnet" in watcher.output()
                )
            ),
            timeout=60,
            what="the watcher's heartbeat",
        )
        assert watcher.process.poll() is None, watcher.output()
        everyone_beating(but="watcher")
        assert health_of(Client())[0] == 200
    finally:
        assert watcher.stop(signal.SIGTERM) == 0, watcher.output()

    everyone_beating(but="watcher")
    status, body = health_of(Client())
    assert status == 503
    assert body["stale"] == ["watcher"]
    assert body["checks"]["watcher"]["detail"].endswith(" stopped")


def test_the_web_process_beats_through_the_asgi_lifespan(transactional_db: None) -> None:
    from btt_site.asgi import application

    async def lifespan() -> list[str]:
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        sent: list[str] = []

        async def send(message: Any) -> None:
            sent.append(message["type"])

        for message in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": message})
        await application({"type": "lifespan"}, inbox.get, send)
        return sent

    assert asyncio.run(lifespan()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    beat = Heartbeat.objects.get(kind="web", name=heartbeats.process_name())
    assert beat.stopped_at is not None


# --- /healthz/deep ---------------------------------------------------------------------------


def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_the_deep_check_is_for_staff_or_the_token_only(
    fan: User, staff: User, settings: SettingsWrapper
) -> None:
    settings.HEALTH_DEEP_TOKEN = "a-long-monitoring-token"
    fan_client = Client()
    fan_client.force_login(fan)

    assert Client().get("/healthz/deep").status_code == 403
    assert fan_client.get("/healthz/deep").status_code == 403
    wrong = Client(headers={"Authorization": "Bearer nope"})
    assert wrong.get("/healthz/deep").status_code == 403
    right = Client(headers={"Authorization": "Bearer a-long-monitoring-token"})
    assert right.get("/healthz/deep").status_code in (200, 503)
    assert staff_client(staff).get("/healthz/deep").status_code in (200, 503)


@pytest.mark.usefixtures("tron_node")
def test_deep_all_green_with_worker_engine_and_node_running(
    celery_worker: Child, swarm_engine: Child, staff: User
) -> None:
    status, body = health_of(staff_client(staff), "/healthz/deep")
    checks = body["checks"]

    assert status == 200, checks
    assert set(checks) == {"database", "redis", "broadcast", "celery", "swarm", "tron"}
    assert all(check["ok"] for check in checks.values()), checks
    assert swarm_engine.name in str(checks["swarm"]["detail"])
    assert str(checks["tron"]["detail"]).startswith("devnet block ")
    # the round trip left no subscription behind
    assert not any(found.members for found in list(broadcast._hubs.values()))


@pytest.mark.usefixtures("tron_node")
def test_deep_stopping_the_worker_turns_celery_red(
    celery_worker: Child, swarm_engine: Child, staff: User
) -> None:
    client = staff_client(staff)
    assert health_of(client, "/healthz/deep")[0] == 200

    celery_worker.stop(signal.SIGKILL)

    status, body = health_of(client, "/healthz/deep")
    assert status == 503
    assert body["checks"]["celery"]["ok"] is False
    assert body["checks"]["swarm"]["ok"] is True


def test_deep_stopping_the_tron_node_turns_tron_red(tron_node: Devnet, staff: User) -> None:
    client = staff_client(staff)
    assert health_of(client, "/healthz/deep")[1]["checks"]["tron"]["ok"] is True

    tron_node.stop(signal.SIGKILL)

    status, body = health_of(client, "/healthz/deep")
    assert status == 503
    assert body["checks"]["tron"]["ok"] is False
    assert "ConnectError" in str(body["checks"]["tron"]["detail"])


def test_deep_a_node_answering_garbage_is_red(
    asgi_server: AsgiServer, settings: SettingsWrapper, staff: User
) -> None:
    settings.TRON_API_URL = asgi_server.url + "/not-a-node"

    status, body = health_of(staff_client(staff), "/healthz/deep")

    assert status == 503
    assert body["checks"]["tron"]["ok"] is False


@pytest.mark.usefixtures("tron_node", "celery_worker")
def test_deep_a_killed_engine_turns_red_when_its_heartbeat_goes_stale(
    swarm_engine: Child, settings: SettingsWrapper, staff: User
) -> None:
    settings.SWARM_HEARTBEAT_STALE_SECONDS = 3
    client = staff_client(staff)
    assert health_of(client, "/healthz/deep")[0] == 200

    swarm_engine.stop(signal.SIGKILL)  # no chance to say goodbye

    wait_for(
        lambda: health_of(client, "/healthz/deep")[0] == 503,
        timeout=30,
        what="the stale heartbeat",
    )
    assert health_of(client, "/healthz/deep")[1]["checks"]["swarm"]["ok"] is False


def test_deep_redis_down_is_reported_not_raised(settings: SettingsWrapper, staff: User) -> None:
    client = staff_client(staff)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    status, body = health_of(client, "/healthz/deep")

    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
