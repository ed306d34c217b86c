"""Hashing a published content into its torrent, in the worker, and the task that runs it.

A content in state ``hashing`` is the intent (``Content.hash_heartbeat_at``, ``hash_runner``,
``hash_attempts``); the task ``swarm.ingest_content`` only makes it happen sooner, and the sweep
``requeue_stalled_hashing`` queues again what a killed worker or a lost queue dropped.

The task is defined here, beside the hashing it runs, because both publishing and the sweep
queue it: with the task in ``swarm.tasks``, which calls into this module, the two would import
each other. ``swarm.tasks`` imports this module, so the worker registers the task under its name.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from swarm import events, torrents
from swarm.models import Content, ContentFile

logger = logging.getLogger(__name__)


def is_quiet(heartbeat: datetime | None, now: datetime) -> bool:
    """Whether a hashing run with this last sign of life counts as dead (stale for
    SWARM_HASH_STALE_SECONDS, or never seen)."""
    stale = now - timedelta(seconds=settings.SWARM_HASH_STALE_SECONDS)
    return heartbeat is None or heartbeat < stale


class Superseded(Exception):
    """This run no longer holds its content: it went quiet and the sweep queued another."""


class ProgressReporter:
    """Hashing progress to the database and the content's group, at most 1/INTERVAL times a
    second, written from a thread of its own so that the hashing never waits on a write.

    The hashing loop calls the reporter after every piece; that only records the count and,
    once INTERVAL has passed on ``clock`` since the last one, hands a snapshot to the writer
    thread (no database, no network in the loop). Each snapshot is one conditional UPDATE (on
    this run still holding the content, ``hash_runner``; every SWARM_HASH_HEARTBEAT_SECONDS it
    refreshes the heartbeat in the same statement) and one send to the group. A hash that makes
    no progress writes nothing, so its heartbeat goes quiet and the sweep takes over.

    The thread starts with the first snapshot, so a hash shorter than INTERVAL costs no thread
    and no second database connection (publishing already announced the 0%).
    Use it as a context manager around the hashing: leaving waits for the writes handed over.
    A write that fails (Superseded when another run took the content, or a database error)
    makes the next call raise it, and ``error`` holds it once the block is left.
    """

    INTERVAL = 0.25

    def __init__(
        self,
        content_id: int,
        runner: str = "",
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.content_id = content_id
        self.runner = runner
        self.interval = interval
        self.clock = clock
        self.sent = -1.0  # the progress last written (by the writer thread)
        self.writes = 0
        self.done, self.total = 0, 1
        self.due_at = clock() + interval
        self.beat_at = time.monotonic()
        self.error: Exception | None = None
        # Not coalesced: at most 1/interval snapshots a second, in order, each written.
        self._snapshots: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._snapshots.put(None)
            self._writer.join()

    def __call__(self, done: int, total: int) -> None:
        if self.error is not None:
            raise self.error
        self.done, self.total = done, total
        if self.clock() >= self.due_at:
            self.flush()

    def flush(self) -> None:
        """Hand the current count to the writer now, whatever the clock says."""
        self.due_at = self.clock() + self.interval
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_snapshots, name=f"hash-progress-{self.content_id}", daemon=True
            )
            self._writer.start()
        self._snapshots.put((self.done, self.total))

    def _write_snapshots(self) -> None:
        try:
            while (snapshot := self._snapshots.get()) is not None:
                self._write(*snapshot)
        except Exception as exc:  # handed to the hashing thread, raised there
            self.error = exc
            while self._snapshots.get() is not None:
                pass
        finally:
            # This thread's own database connection; the hashing's thread keeps its own.
            connection.close()

    def _write(self, done: int, total: int) -> None:
        progress = done / total if total else 1.0
        now = time.monotonic()
        fields: dict[str, object] = {"hash_progress": progress}
        if now - self.beat_at >= settings.SWARM_HASH_HEARTBEAT_SECONDS:
            fields["hash_heartbeat_at"] = timezone.now()
            self.beat_at = now
        changed = Content.objects.filter(
            pk=self.content_id, state=Content.State.HASHING, hash_runner=self.runner
        ).update(**fields)
        if not changed:
            raise Superseded(f"content {self.content_id}: no longer hashed by this run")
        self.sent = progress
        self.writes += 1
        events.send_ingest(
            self.content_id, Content.State.HASHING, progress, f"{done}/{total} pieces hashed"
        )


def interrupted_reason(attempts: int) -> str:
    return (
        f"Hashing was interrupted {attempts} times (the worker stopped before it finished). "
        "Publish again to retry; if it keeps failing, contact support."
    )


def _claim(content: Content) -> str | None:
    """This run's token once it holds ``content`` for hashing; None when another run does (or
    the content is no longer waiting). One more attempt is counted."""
    if content.hash_runner and not is_quiet(content.hash_heartbeat_at, timezone.now()):
        return None  # a live run holds it; this is a second delivery
    runner = uuid.uuid4().hex
    claimed = Content.objects.filter(
        pk=content.pk,
        state=Content.State.HASHING,
        hash_runner=content.hash_runner,
        hash_attempts=content.hash_attempts,
    ).update(
        hash_runner=runner, hash_attempts=F("hash_attempts") + 1, hash_heartbeat_at=timezone.now()
    )
    return runner if claimed else None


def hash_content(content_id: int) -> None:
    """Hash a published content and make it seed; safe to run twice, or after a run that died.

    Only content in state ``hashing`` is touched: anything seeding, failed or removed is left
    alone. A run first claims the content (``_claim``): a second delivery while a run is alive
    does nothing, and a run that went quiet and lost its claim stops at its next progress write
    without writing anything. The torrent is built from the files alone, so whichever run
    finishes writes the same one. Errors about the files mark the content failed with the
    reason; database errors propagate (the sweep queues it again).
    """
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None or content.state != Content.State.HASHING:
        logger.info("content %s: not waiting for hashing, nothing to do", content_id)
        return
    if content.hash_attempts >= settings.SWARM_HASH_MAX_ATTEMPTS:
        _fail(content_id, content.hash_progress, interrupted_reason(content.hash_attempts))
        return
    runner = _claim(content)
    if runner is None:
        logger.info("content %s: another run is hashing it, nothing to do", content_id)
        return
    reporter = ProgressReporter(content_id, runner)
    try:
        with reporter:
            metainfo = torrents.build_torrent(content, reporter)
        if reporter.error is not None:
            raise reporter.error
        info = torrents.parse(metainfo)
        with transaction.atomic():
            if content.hybrid:
                _follow_torrent_order(content, info.paths)
            changed = Content.objects.filter(
                pk=content_id, state=Content.State.HASHING, hash_runner=runner
            ).update(
                state=Content.State.SEEDING,
                metainfo=metainfo,
                infohash=info.infohash,
                piece_length=info.piece_length,
                hash_progress=1.0,
                state_detail="",
                published_at=timezone.now(),
                hash_runner="",
            )
            if changed:
                events.send_ingest(content_id, Content.State.SEEDING, 1.0, "")
    except Superseded as exc:
        logger.warning("%s; leaving it to the newer run", exc)
    except IntegrityError:
        _fail(content_id, reporter.sent, "The same torrent is already published elsewhere.", runner)
    except DatabaseError:
        raise
    except (torrents.IngestError, OSError, RuntimeError) as exc:
        # RuntimeError: libtorrent's errors (its system_error) come out as that.
        _fail(content_id, reporter.sent, f"Hashing failed: {exc}", runner)


@shared_task(name="swarm.ingest_content")
def ingest_content(content_id: int) -> None:
    """Hash a published content into its torrent and make it seed (see ``hash_content``)."""
    hash_content(content_id)


def queue_hashing(content_id: int) -> None:
    """Queue the hashing of ``content_id`` once the current transaction commits.

    Robust: the content is in ``hashing`` by then whatever happens to the queue, and the sweep
    queues again what never arrived.
    """
    transaction.on_commit(lambda: ingest_content.delay(content_id), robust=True)


def requeue_stalled_hashing() -> int:
    """The sweep (beat, every 30 s): contents in ``hashing`` whose hashing went quiet for
    SWARM_HASH_STALE_SECONDS are queued again, or fail after SWARM_HASH_MAX_ATTEMPTS runs that
    died. Covers a worker killed mid-hash and a queue that lost the task. Returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SWARM_HASH_STALE_SECONDS)
    quiet = Content.objects.filter(state=Content.State.HASHING).filter(
        Q(hash_heartbeat_at__lt=stale) | Q(hash_heartbeat_at__isnull=True)
    )
    handled = 0
    for pk, attempts, heartbeat, progress in quiet.values_list(
        "pk", "hash_attempts", "hash_heartbeat_at", "hash_progress"
    ):
        if attempts >= settings.SWARM_HASH_MAX_ATTEMPTS:
            _fail(pk, progress, interrupted_reason(attempts))
            handled += 1
            continue
        # Conditional on the heartbeat seen, so two sweeps never both queue it; the dead run's
        # claim goes, so the new run may take it (and the old one, were it only stalled, stops).
        if Content.objects.filter(
            pk=pk, state=Content.State.HASHING, hash_heartbeat_at=heartbeat
        ).update(hash_heartbeat_at=now, hash_runner=""):
            logger.warning("content %s: hashing went quiet; queued again", pk)
            ingest_content.delay(pk)
            events.send_ingest(pk, Content.State.HASHING, progress, "queued again")
            handled += 1
    return handled


def _follow_torrent_order(content: Content, paths: list[str]) -> None:
    # Hybrid torrents list files in canonical (sorted) order; positions follow the torrent.
    prefix = f"{content.name}/"
    order = {path.removeprefix(prefix): i for i, path in enumerate(paths)}
    for file in content.files.all():
        if file.path in order and file.position != order[file.path]:
            ContentFile.objects.filter(pk=file.pk).update(position=order[file.path])


def _fail(content_id: int, progress: float, reason: str, runner: str | None = None) -> None:
    logger.warning("content %s: ingest failed: %s", content_id, reason)
    waiting = Content.objects.filter(pk=content_id, state=Content.State.HASHING)
    if runner is not None:
        waiting = waiting.filter(hash_runner=runner)
    with transaction.atomic():
        changed = waiting.update(state=Content.State.FAILED, state_detail=reason, hash_runner="")
        if changed:
            events.send_ingest(content_id, Content.State.FAILED, max(progress, 0.0), reason)
