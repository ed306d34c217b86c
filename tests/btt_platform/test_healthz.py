"""/healthz probes every dependency for real and turns red when one stops."""

from __future__ import annotations

import signal

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.conftest import AsgiServer, Child, Devnet, wait_for


def health(client: Client) -> tuple[int, dict[str, dict[str, object]]]:
    response = client.get("/healthz")
    return response.status_code, response.json()["checks"]


pytestmark = pytest.mark.usefixtures("tron_node")


def test_all_green_with_worker_engine_and_node_running(
    celery_worker: Child, swarm_engine: Child
) -> None:
    status, checks = health(Client())

    assert status == 200, checks
    assert set(checks) == {"database", "redis", "broadcast", "celery", "swarm", "tron"}
    assert all(check["ok"] for check in checks.values()), checks
    assert swarm_engine.name in str(checks["swarm"]["detail"])
    assert str(checks["tron"]["detail"]).startswith("devnet block ")


def test_stopping_the_tron_node_turns_tron_red(tron_node: Devnet, db: None) -> None:
    client = Client()
    assert health(client)[1]["tron"]["ok"] is True

    tron_node.stop(signal.SIGKILL)

    status, checks = health(client)
    assert status == 503
    assert checks["tron"]["ok"] is False
    assert "ConnectError" in str(checks["tron"]["detail"])


def test_a_node_answering_garbage_is_red(
    asgi_server: AsgiServer, settings: SettingsWrapper
) -> None:
    # given: a "node" whose getnowblock is a page of HTML (here: the site's own 404)
    settings.TRON_API_URL = asgi_server.url + "/not-a-node"

    status, checks = health(Client())

    assert status == 503
    assert checks["tron"]["ok"] is False


def test_stopping_the_worker_turns_celery_red(celery_worker: Child, swarm_engine: Child) -> None:
    client = Client()
    assert health(client)[0] == 200

    celery_worker.stop(signal.SIGKILL)

    status, checks = health(client)
    assert status == 503
    assert checks["celery"]["ok"] is False
    assert checks["swarm"]["ok"] is True
    assert checks["database"]["ok"] is True


def test_stopping_the_engine_turns_swarm_red_at_once(
    celery_worker: Child, swarm_engine: Child
) -> None:
    client = Client()
    assert health(client)[0] == 200

    # A clean stop marks the node stopped: red on the next probe.
    assert swarm_engine.stop(signal.SIGTERM) == 0

    status, checks = health(client)
    assert status == 503
    assert checks["swarm"]["ok"] is False
    assert checks["celery"]["ok"] is True


@pytest.mark.usefixtures("celery_worker")
def test_a_killed_engine_turns_red_when_its_heartbeat_goes_stale(
    swarm_engine: Child, settings: SettingsWrapper
) -> None:
    settings.SWARM_HEARTBEAT_STALE_SECONDS = 3
    client = Client()
    assert health(client)[0] == 200

    swarm_engine.stop(signal.SIGKILL)  # no chance to say goodbye

    wait_for(lambda: health(client)[0] == 503, timeout=30, what="the stale heartbeat")
    assert health(client)[1]["swarm"]["ok"] is False


def test_redis_down_is_reported_not_raised(settings: SettingsWrapper, db: None) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    status, checks = health(Client())

    assert status == 503
    assert checks["redis"]["ok"] is False
    assert checks["database"]["ok"] is True
