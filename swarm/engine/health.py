"""The health of seeded contents: their files checked against the torrent, and the reports.

The engine reports a content missing when its files are missing or of the wrong size, in error
when a piece or a check fails, checking while a full check runs, and seeding once it seeds.
``runswarm`` writes the reports to this node's own rows (``swarm.node_seeding``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from swarm.seeding import HealthReport, Published, SeedState

# Every module of the engine logs as "swarm.engine", the name runswarm's output is read by.
log = logging.getLogger("swarm.engine")

FileSignature = tuple[tuple[str, int, float], ...]


@dataclass
class Failure:
    """Why a content is not seeded, and the file signature it was judged on."""

    detail: str
    signature: FileSignature = field(default_factory=tuple)
    state: SeedState = "missing"


def file_signature(item: Published) -> FileSignature:
    """Path, size and modification time of each file: what a re-check would be judged on."""
    signature = []
    for path, _size in item.files:
        try:
            stat = (item.save_path / path).stat()
            signature.append((path, stat.st_size, stat.st_mtime))
        except OSError:
            signature.append((path, -1, 0.0))
    return tuple(signature)


def file_problem(item: Published) -> str | None:
    """What is wrong with the content's files on disk, or None when sizes all match."""
    for path, size in item.files:
        full = item.save_path / path
        try:
            actual = full.stat().st_size
        except FileNotFoundError:
            return f"file missing: {path}"
        except OSError as exc:
            return f"file unreadable: {path}: {exc.strerror}"
        if actual != size:
            return f"file changed: {path} is {actual} bytes, the torrent says {size}"
    return None


class Health:
    """The contents the engine does not seed for their files, and the reports not yet taken."""

    def __init__(self) -> None:
        self._failed: dict[int, Failure] = {}  # content id -> why it is not seeded
        self._reports: list[HealthReport] = []

    def report(self, content_id: int, state: SeedState, detail: str = "") -> None:
        self._reports.append(HealthReport(content_id, state, detail))

    def take(self) -> list[HealthReport]:
        reports, self._reports = self._reports, []
        return reports

    def judged(self, item: Published) -> Failure | None:
        """The failure ``item`` was judged on, while its files are still exactly those."""
        failure = self._failed.get(item.content_id)
        if failure and failure.signature == file_signature(item):
            return failure
        return None

    def fail(self, item: Published, detail: str) -> None:
        """``item``'s files are wrong before it is seeded: reported when news (or while the
        database still thinks it healthy)."""
        failure = self._failed.get(item.content_id)
        if failure is None or failure.detail != detail or item.healthy:
            log.warning("content %s is unhealthy: %s", item.content_id, detail)
            self.report(item.content_id, "missing", detail)
        self._failed[item.content_id] = Failure(detail, file_signature(item), "missing")

    def mark_failed(self, item: Published, detail: str, state: SeedState = "error") -> None:
        """``item`` failed while seeded (a file error, a failed piece or check)."""
        log.warning("content %s is unhealthy: %s", item.content_id, detail)
        # Judged on these files: reconcile retries once they change, not on every pass (each
        # retry of an unhealthy content is a full hash check).
        self._failed[item.content_id] = Failure(detail, file_signature(item), state)
        self.report(item.content_id, state, detail)

    def forget(self, content_id: int) -> None:
        """``content_id`` is seeded again."""
        self._failed.pop(content_id, None)
