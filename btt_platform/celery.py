"""The Celery application: ingest, payment matching, webhooks and emails run here."""

from __future__ import annotations

import os
from collections.abc import Iterable

from celery import Celery
from celery.signals import beat_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")

# Creator webhooks' own queue (CELERY_TASK_ROUTES), consumed by the `webhooks` worker only.
WEBHOOKS_QUEUE = "webhooks"

app = Celery("btt_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Heartbeats (btt_platform.heartbeats): the worker and beat processes beat from a timer of
# their own while they run; /healthz names whichever stopped.
@worker_ready.connect
def _worker_beats(**kwargs: object) -> None:
    from btt_platform import heartbeats

    for kind in heartbeat_kinds(app.amqp.queues.consume_from):
        heartbeats.start(kind)


def heartbeat_kinds(queues: Iterable[str]) -> list[str]:
    """What a worker consuming ``queues`` beats as: ``webhooks`` for the webhooks queue,
    ``worker`` for any other. With one kind for both, the webhooks worker's heartbeat kept
    "worker" fresh in /healthz while the worker that hashes uploads and sends emails was
    dead."""
    consumed = set(queues)
    kinds = ["webhooks"] if WEBHOOKS_QUEUE in consumed else []
    if consumed - {WEBHOOKS_QUEUE} or not kinds:
        kinds.insert(0, "worker")
    return kinds


@worker_shutdown.connect
def _worker_stops(**kwargs: object) -> None:
    from btt_platform import heartbeats

    heartbeats.stop()


@beat_init.connect
def _beat_beats(**kwargs: object) -> None:
    import atexit

    from btt_platform import heartbeats

    heartbeats.start("beat")
    atexit.register(heartbeats.stop)
