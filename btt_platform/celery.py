"""The Celery application: ingest, payment matching, webhooks and emails run here."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")

app = Celery("btt_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
