"""A creator's endpoint that never answers does not slow another creator's upload: webhook
deliveries run on their own queue and worker, one attempt per endpoint at a time.

Real processes: a Celery worker of the default queue (``-Q celery``, as in the Procfile) and one
of ``webhooks``; a raw socket server on 127.0.0.1 that accepts connections and never answers.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from creators.models import Creator
from payments.models import WebhookDelivery
from payments.tasks import deliver_webhook
from payments.webhooks import services
from swarm import publishing
from swarm.models import Content
from tests.fixtures.content import uploaded
from tests.fixtures.personas import make_user
from tests.fixtures.processes import Child, start_worker, wait_for
from tests.payments.factories import OTHER_ADDRESS

pytestmark = pytest.mark.django_db(transaction=True)


class HangingEndpoint:
    """Accepts every connection on 127.0.0.1 and never answers (nor closes) until stopped."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def hanging_endpoint() -> Iterator[HangingEndpoint]:
    endpoint = HangingEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path) -> Iterator[tuple[Child, Child]]:
    """The default worker and the webhooks worker, each on its own queue only."""
    default = start_worker(tmp_path, extra={"CELERY_WORKER_QUEUES": "celery"})
    try:
        hooks = start_worker(tmp_path, label="webhooks", extra={"CELERY_WORKER_QUEUES": "webhooks"})
    except BaseException:
        default.stop()
        raise
    try:
        yield default, hooks
    finally:
        hooks.stop(timeout=5)
        default.stop()


def seconds_to_seeding(creator: Creator, name: str) -> float:
    """Publish a small upload of the creator's and time it until it is seeding."""
    content = uploaded(creator, {name: os.urandom(256 * 1024 + 7)}, access="free", title=name)
    started = time.monotonic()
    publishing.publish_content(creator.user, content.pk)
    wait_for(
        lambda: Content.objects.get(pk=content.pk).state in ("seeding", "failed"),
        timeout=300,
        what=f"{name} to be seeding",
    )
    elapsed = time.monotonic() - started
    assert Content.objects.get(pk=content.pk).state == "seeding"
    return elapsed


def test_a_hanging_endpoint_does_not_slow_another_creators_upload(
    workers: tuple[Child, Child],
    creator: Creator,
    hanging_endpoint: HangingEndpoint,
    settings: Settings,
) -> None:
    # The project does not time things in tests; this one does because the issue asks for the
    # measured comparison. The baseline is measured in this same test, on the same machine and
    # workers, and the bound is generous (1.5x, or 5 s more, whichever is larger), so a slow
    # machine slows both runs alike. Without the separate queue the loaded run took ~100 s.
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = True  # the endpoint is on loopback
    default_worker, webhook_worker = workers

    # given: the time another creator's upload takes to reach seeding, nothing else going on
    seconds_to_seeding(creator, "warm-up.bin")  # first task of the worker: imports, connections
    baseline = seconds_to_seeding(creator, "baseline.bin")

    # and: 20 deliveries queued to an endpoint of a creator's that accepts and never answers,
    # the first of them hanging already
    owner = Creator.objects.create(
        user=make_user("hanging"),
        handle="hanging",
        display_name="Hanging",
        payout_address=OTHER_ADDRESS,
    )
    webhook = services.create_webhook(owner.user, hanging_endpoint.url)
    for number in range(20):
        delivery = WebhookDelivery.objects.create(
            webhook=webhook,
            event="invoice.created",
            payload={"event": "invoice.created", "number": number},
            next_attempt_at=webhook.created_at,
        )
        deliver_webhook.delay(delivery.pk)
    wait_for(lambda: len(hanging_endpoint.held) >= 1, timeout=60, what="the first attempt")

    # when: the other creator publishes the same kind of upload
    loaded = seconds_to_seeding(creator, "loaded.bin")

    # then: about as fast as without the hanging endpoint
    print(f"seconds to seeding: baseline {baseline:.2f}, with the hanging endpoint {loaded:.2f}")
    assert loaded <= max(1.5 * baseline, baseline + 5.0), (baseline, loaded)
    # and the endpoint was being called meanwhile, by the webhooks worker only
    assert hanging_endpoint.held
    assert "payments.deliver_webhook[" in webhook_worker.output()
    assert "payments.deliver_webhook[" not in default_worker.output()
