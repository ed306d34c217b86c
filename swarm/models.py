"""The swarm's state in the database: engine nodes (content and torrents join with ingest)."""

from __future__ import annotations

from django.db import models


class EngineNode(models.Model):
    """A ``runswarm`` process. Its heartbeat row is how /healthz and the admin see it."""

    name = models.CharField(max_length=200, unique=True)
    listen_address = models.CharField(max_length=200, blank=True)
    libtorrent_version = models.CharField(max_length=40, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    # Set on a clean shutdown, so /healthz turns red at once instead of after the stale window.
    stopped_at = models.DateTimeField(null=True, blank=True)
    torrents = models.PositiveIntegerField(default=0)
    peers = models.PositiveIntegerField(default=0)
    upload_rate = models.PositiveBigIntegerField(default=0, help_text="bytes per second")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
