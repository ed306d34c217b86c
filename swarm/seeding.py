"""Records the engine and the database exchange (kept free of libtorrent and the ORM)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# What one node does with one content (``swarm.models.NodeSeeding.State`` holds the same values):
# seeding it, fetching it from other nodes (a content placed on it), checking every piece before
# it seeds again, missing (or wrong-sized) files, or an error met while seeded (a failed piece, a
# failed check, libtorrent's file errors).
SeedState = Literal["seeding", "fetching", "checking", "missing", "error"]


@dataclass(frozen=True)
class EngineStats:
    listen_address: str
    torrents: int
    peers: int
    upload_rate: int


@dataclass(frozen=True)
class Published:
    """A content the database wants seeded (state seeding, or unhealthy and worth a retry)."""

    content_id: int
    infohash: str
    metainfo: bytes
    save_path: Path
    files: tuple[tuple[str, int], ...]  # (path relative to save_path, size)
    healthy: bool
    # Placed on this node (``swarm.placement``): what it lacks, it fetches from the other nodes.
    # False: seeded from the files on disk only (a content not placed yet, as on one node).
    fetch: bool = False
    # Placed nowhere yet, and this node's data directory is not where uploads land: seeded if
    # its files are here, and otherwise left alone (not reported missing: it never had them).
    optional: bool = False


@dataclass(frozen=True)
class HealthReport:
    content_id: int
    state: SeedState
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == "seeding"


@dataclass(frozen=True)
class TorrentStats:
    content_id: int
    peers: int
    seeds: int
    upload_rate: int
    bytes_uploaded: int
    bytes_on_disk: int
