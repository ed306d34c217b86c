"""The platform's own records: each long-running process's heartbeat."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last sign of life of one process: a web, worker, webhooks worker, beat or watcher
    process writes it every ``HEARTBEAT_SECONDS`` from a timer of its own
    (``btt_platform.heartbeats``); /healthz reads them. Engines keep theirs on
    ``swarm.EngineNode``."""

    class Kind(models.TextChoices):
        WEB = "web"
        WORKER = "worker"
        WEBHOOKS = "webhooks"
        BEAT = "beat"
        WATCHER = "watcher"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="host:pid")
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
    # Set on a clean stop, so /healthz turns red at once instead of after the stale window.
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="one_heartbeat_per_process")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"
