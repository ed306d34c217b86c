"""The Celery application: ingest, payment matching, webhooks and emails run here."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import beat_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")

app = Celery("btt_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Heartbeats (btt_platform.heartbeats): the worker and beat processes beat from a timer of
# their own while they run; /healthz names whichever stopped.
@worker_ready.connect
def _worker_beats(**kwargs: object) -> None:
    from btt_platform import heartbeats

    heartbeats.start("worker")


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
