"""Swarm operations the engine and the web process share."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from swarm.models import EngineNode


@dataclass(frozen=True)
class EngineStats:
    listen_address: str
    torrents: int
    peers: int
    upload_rate: int


def register_engine(name: str, libtorrent_version: str) -> EngineNode:
    now = timezone.now()
    node, _ = EngineNode.objects.update_or_create(
        name=name,
        defaults={
            "libtorrent_version": libtorrent_version,
            "pid": os.getpid(),
            "started_at": now,
            "stopped_at": None,
        },
    )
    return node


def record_heartbeat(node: EngineNode, stats: EngineStats) -> None:
    EngineNode.objects.filter(pk=node.pk).update(
        last_heartbeat=timezone.now(),
        stopped_at=None,
        listen_address=stats.listen_address,
        torrents=stats.torrents,
        peers=stats.peers,
        upload_rate=stats.upload_rate,
    )


def mark_stopped(node: EngineNode) -> None:
    EngineNode.objects.filter(pk=node.pk).update(stopped_at=timezone.now(), upload_rate=0)


def live_engines() -> list[EngineNode]:
    fresh_since = timezone.now() - timedelta(seconds=settings.SWARM_HEARTBEAT_STALE_SECONDS)
    return list(EngineNode.objects.filter(last_heartbeat__gte=fresh_since, stopped_at__isnull=True))
