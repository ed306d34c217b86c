"""What the swarm pushes to ``/ws/content/<id>/``: typed payloads and their one sender."""

from __future__ import annotations

from typing import Literal, TypedDict

from btt_platform.broadcast import broadcast


def content_group(content_id: int) -> str:
    return f"content.{content_id}"


class IngestEvent(TypedDict):
    type: Literal["ingest"]
    state: str  # Content.State value
    progress: float  # 0.0 .. 1.0 of pieces hashed
    detail: str


class StatsEvent(TypedDict):
    type: Literal["stats"]
    state: str
    peers: int
    seeds: int
    upload_rate: int  # bytes/s, engine only
    bytes_uploaded: int  # engine, all time


def send_ingest(content_id: int, state: str, progress: float, detail: str = "") -> None:
    """For the creator's page: hashing progress and state changes (sent after commit)."""
    event: IngestEvent = {"type": "ingest", "state": state, "progress": progress, "detail": detail}
    broadcast(content_group(content_id), event)


def send_stats(content_id: int, event: StatsEvent) -> None:
    broadcast(content_group(content_id), event)


# --- swarm health, for staff (``/ws/staff/health/``) ---------------------------------------------

HEALTH_GROUP = "staff.swarm-health"


class NodeEvent(TypedDict):
    type: Literal["node"]
    name: str
    status: Literal["up", "stopped"]
    listen_address: str
    torrents: int
    peers: int
    upload_rate: int  # bytes/s
    last_heartbeat: str  # ISO 8601
    free_bytes: int | None  # of its data directory; None: not reported yet
    draining_since: str  # ISO 8601 when ``drainnode`` marked it; "": not draining


class ContentHealthEvent(TypedDict):
    type: Literal["content"]
    content_id: int
    state: str  # Content.State value: seeding (healthy again) or unhealthy
    detail: str


def send_node(event: NodeEvent) -> None:
    broadcast(HEALTH_GROUP, event)


def send_content_health(content_id: int, state: str, detail: str) -> None:
    event: ContentHealthEvent = {
        "type": "content",
        "content_id": content_id,
        "state": state,
        "detail": detail,
    }
    broadcast(HEALTH_GROUP, event)
