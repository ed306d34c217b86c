"""Content on its way in: creating it, uploading its files, publishing, hashing.

The life of a content here: ``create_content`` (state uploading) -> ``create_upload`` per file
and ``UploadWriter`` for the bytes (the tus protocol is in ``swarm.uploads``) ->
``publish_content`` (files move into ``CONTENT_ROOT/<id>/``, state hashing, the ingest task
queued) -> ``hash_content`` in the worker (state seeding, or failed with a reason). The engine
picks up what is seeding.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import shutil
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from swarm import events, torrents
from swarm.models import Content, ContentFile, Upload

logger = logging.getLogger(__name__)

# An unfinished upload nobody touched for this long is gone (404/410) and frees its quota.
UPLOAD_EXPIRES_AFTER = timedelta(days=7)
# Per path component. With at most 8 levels of folders of 40, a path stays under the 500
# characters of Upload.path and ContentFile.path, deduplication suffix included.
MAX_NAME_LENGTH = 120
MAX_FOLDER_LENGTH = 40
MAX_PATH_DEPTH = 8
# Windows cannot create files with these names, whatever the extension.
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# --- errors ----------------------------------------------------------------------------------


class Refused(Exception):
    """A request the platform turns down, with the HTTP status and a message for the user."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotCreator(Refused):
    status = 403


class NotFound(Refused):
    status = 404


class Gone(Refused):
    status = 410


class Conflict(Refused):
    status = 409


class TooLarge(Refused):
    status = 413


class Locked(Refused):
    status = 423


# --- names -----------------------------------------------------------------------------------


def _clean(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"-{2,}", "-", _UNSAFE.sub("-", ascii_text)).strip("-.")


def safe_component(name: str, fallback: str = "file") -> str:
    """One ASCII-safe path component: accents dropped, anything else unsafe turned into '-'.

    WebTorrent does not percent-encode web-seed paths (FIELD-NOTES "Web seeds"), so names in
    torrents keep to ``[A-Za-z0-9._-]``, never start with a dot (no hidden files, no '..') and
    are not Windows device names; the original name is kept for display.
    """
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip():  # no extension, or a dot file
        stem, ext = name, ""
    stem, ext = _clean(stem) or fallback, _clean(ext)[:16]
    if stem.upper() in _WINDOWS_RESERVED:
        stem += "_"
    stem = stem[: MAX_NAME_LENGTH - len(ext) - 1]
    return f"{stem}.{ext}" if ext else stem


def safe_path(name: str) -> str:
    """An uploaded file name, possibly with folders ('/' or '\\'), as an ASCII-safe path."""
    parts = [p for p in re.split(r"[/\\]", name) if p.strip() not in ("", ".", "..")]
    if not parts:
        return safe_component("")
    parts = parts[-MAX_PATH_DEPTH:]
    folders = [
        safe_component(part, "folder")[:MAX_FOLDER_LENGTH].rstrip("-.") or "folder"
        for part in parts[:-1]
    ]
    return "/".join([*folders, safe_component(parts[-1])])


def _folders(path: str) -> list[str]:
    """'a/b/c.txt' -> ['a', 'a/b']"""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def place(name: str, existing: list[str]) -> str:
    """The ASCII-safe path for an uploaded ``name`` next to the ``existing`` paths of a content.

    Raises Conflict when a folder of the new path is an existing file (a file system cannot
    hold both).
    """
    path = safe_path(name)
    files = {p.lower() for p in existing}
    for folder in _folders(path):
        if folder.lower() in files:
            raise Conflict(f"{folder!r} is a file of this content already; it cannot be a folder.")
    folders = {f.lower() for p in existing for f in _folders(p)}
    return dedupe(path, files | folders)


def dedupe(path: str, taken: set[str]) -> str:
    """``path``, or ``name-2.ext``, ``name-3.ext``... when taken (case-insensitively)."""
    candidate, counter = path, 1
    pure = PurePosixPath(path)
    while candidate.lower() in taken:
        counter += 1
        candidate = str(pure.with_name(f"{pure.stem}-{counter}{pure.suffix}"))
    return candidate


# --- contents --------------------------------------------------------------------------------


def creator_of(user: User) -> Creator:
    creator = Creator.objects.filter(user=user).first()
    if creator is None or not user.is_active:
        raise NotCreator(
            "Only creators can upload content: set up a creator profile first "
            "(POST /api/v1/creators/me)."
        )
    return creator


def create_content(
    user: User, title: str, description: str = "", access: str = "paid", hybrid: bool | None = None
) -> Content:
    creator = creator_of(user)
    content = Content(
        creator=creator,
        title=title.strip(),
        description=description,
        access=access,
        hybrid=settings.TORRENT_HYBRID_DEFAULT if hybrid is None else hybrid,
    )
    content.full_clean(exclude=["name"])
    content.save()
    return content


def own_content(user: User, content_id: int, *, for_update: bool = False) -> Content:
    queryset = Content.objects.select_related("creator")
    if for_update:
        queryset = queryset.select_for_update()
    content = queryset.filter(pk=content_id, creator__user=user).first()
    if content is None:
        raise NotFound("No such content of yours.")
    return content


# --- quota and uploads -----------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    limit: int
    stored: int  # published (or being hashed) content, minus removed
    reserved: int  # declared lengths of open uploads

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.stored - self.reserved)


def quota_for(creator: Creator) -> Quota:
    stored = (
        Content.objects.filter(creator=creator)
        .exclude(state=Content.State.REMOVED)
        .aggregate(total=Sum("total_size"))["total"]
    )
    reserved = (
        Upload.objects.filter(content__creator=creator)
        .filter(Q(expires_at__gt=timezone.now()) | Q(offset=F("length")))
        .aggregate(total=Sum("length"))["total"]
    )
    return Quota(settings.CREATOR_QUOTA_BYTES, stored or 0, reserved or 0)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    exponent = min(4, (n.bit_length() - 1) // 10)
    return f"{n / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB', 'TiB')[exponent - 1]}"


def create_upload(user: User, content_id: int, filename: str, length: int) -> Upload:
    """Open a resumable upload of ``length`` bytes into ``content_id``.

    The declared length is checked against UPLOAD_MAX_BYTES and the creator's remaining quota
    here, before any byte arrives, and reserved. Raises NotCreator, NotFound, Conflict, TooLarge.
    """
    creator = creator_of(user)
    if length > settings.UPLOAD_MAX_BYTES:
        raise TooLarge(
            f"The file is {_size(length)}; the largest upload allowed is "
            f"{_size(settings.UPLOAD_MAX_BYTES)}."
        )
    with transaction.atomic():
        # Serialises quota checks of one creator (SQLite serialises all writers anyway).
        Creator.objects.select_for_update().filter(pk=creator.pk).first()
        content = own_content(user, content_id, for_update=True)
        if content.state != Content.State.UPLOADING:
            raise Conflict(
                f"Content {content.pk} is {content.state}; files can no longer be added."
            )
        quota = quota_for(creator)
        if length > quota.remaining:
            raise TooLarge(
                f"Over your storage quota: the file is {_size(length)} but only "
                f"{_size(quota.remaining)} of your {_size(quota.limit)} are left."
            )
        existing = list(content.uploads.values_list("path", "position"))
        path = place(filename, [p for p, _ in existing])
        upload = Upload.objects.create(
            content=content,
            path=path,
            original_name=filename[:500],
            length=length,
            position=max((pos for _, pos in existing), default=-1) + 1,
            expires_at=timezone.now() + UPLOAD_EXPIRES_AFTER,
        )
        settings.UPLOAD_ROOT.mkdir(parents=True, exist_ok=True)
        # Created inside the transaction: if the file cannot be made, no row promises it.
        upload.file_path.touch(exist_ok=False)
    return upload


def open_upload(user: User, upload_id: uuid.UUID) -> Upload:
    """``user``'s upload by id; NotFound for anyone else's, Gone when expired unfinished."""
    upload = (
        Upload.objects.select_related("content")
        .filter(pk=upload_id, content__creator__user=user)
        .first()
    )
    if upload is None:
        raise NotFound("No such upload of yours (unknown, or its content was published).")
    if not upload.is_complete and upload.expires_at <= timezone.now():
        raise Gone("This upload expired; start a new one.")
    return upload


class UploadWriter:
    """Appends to an upload's file under an exclusive lock, from the acknowledged offset.

    ``begin`` takes the lock and checks the client's offset against the database; bytes past
    the last acknowledged offset (a crash before the acknowledgement) are discarded first.
    ``write`` refuses any byte beyond the declared length. ``commit`` fsyncs, then records the
    new offset: a client is only ever told about bytes that are on disk.
    """

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.start = upload.offset
        self.offset = upload.offset
        self._fd = -1

    def begin(self, client_offset: int) -> None:
        self._fd = _open_locked(self.upload)
        # Re-read under the lock: the request holding it before may have moved the offset.
        try:
            self.upload.refresh_from_db(fields=["offset", "expires_at"])
        except Upload.DoesNotExist:
            self.close()
            raise NotFound("No such upload any more (cancelled, or published).") from None
        self.start = self.offset = self.upload.offset
        if client_offset != self.offset:
            self.close()
            raise Conflict(
                f"Upload-Offset {client_offset} does not match the server's {self.offset}; "
                "ask with HEAD and resume from there."
            )
        os.ftruncate(self._fd, self.offset)
        os.lseek(self._fd, self.offset, os.SEEK_SET)

    @property
    def room(self) -> int:
        return self.upload.length - self.offset

    def write(self, data: bytes | memoryview) -> None:
        if len(data) > self.room:
            raise TooLarge(f"More data than the declared Upload-Length {self.upload.length}.")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self.offset += written

    def commit(self) -> int:
        """Make the written bytes durable and acknowledge them; returns the new offset."""
        if self._fd >= 0:
            os.fsync(self._fd)
        if self.offset != self.start:
            now = timezone.now()
            changed = Upload.objects.filter(pk=self.upload.pk, offset=self.start).update(
                offset=self.offset, updated_at=now, expires_at=now + UPLOAD_EXPIRES_AFTER
            )
            if changed != 1:  # terminated meanwhile: nothing to acknowledge
                raise Gone("This upload was cancelled while data arrived.")
            self.upload.offset = self.offset
            self.start = self.offset
        return self.offset

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock
            self._fd = -1


def _open_locked(upload: Upload) -> int:
    """The upload's file, opened for writing and locked against other requests (any process).

    Raises Gone when the file is missing, Locked when another request holds it.
    """
    try:
        fd = os.open(upload.file_path, os.O_WRONLY)
    except FileNotFoundError:
        raise Gone("This upload's data is gone; start a new one.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Locked("Another request is writing to this upload; retry shortly.") from None
    return fd


def terminate_upload(user: User, upload_id: uuid.UUID) -> None:
    """Drop an upload and its bytes (tus termination); only while its content is uploading."""
    upload = open_upload(user, upload_id)
    try:
        fd = _open_locked(upload)  # not while a PATCH writes
    except Gone:
        fd = -1
    try:
        with transaction.atomic():
            content = own_content(user, upload.content_id, for_update=True)
            if content.state != Content.State.UPLOADING:
                raise Conflict("The content is published; its files can no longer change.")
            Upload.objects.filter(pk=upload.pk).delete()
        upload.file_path.unlink(missing_ok=True)
    finally:
        if fd >= 0:
            os.close(fd)


def purge_expired_uploads(orphans_older_than: timedelta = timedelta(days=1)) -> int:
    """Delete unfinished uploads past their expiry, and files no upload owns; returns how many.

    Orphan files are left by a process that died between publishing and removing the upload
    files, or between creating a file and committing its row.
    """
    expired = list(
        Upload.objects.filter(expires_at__lte=timezone.now()).exclude(offset=F("length"))
    )
    removed = 0
    for upload in expired:
        if Upload.objects.filter(pk=upload.pk, offset=upload.offset).delete()[0]:
            upload.file_path.unlink(missing_ok=True)
            removed += 1
    root = Path(settings.UPLOAD_ROOT)
    cutoff = time.time() - orphans_older_than.total_seconds()
    candidates = [p for p in root.iterdir() if p.stat().st_mtime < cutoff] if root.exists() else []
    known = {
        str(pk)
        for pk in Upload.objects.filter(pk__in=[_uuid(p.name) for p in candidates]).values_list(
            "pk", flat=True
        )
    }
    for path in candidates:
        if path.name not in known:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _uuid(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name)
    except ValueError:
        return None


# --- publishing ------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lay_out(content_id: int, files: list[tuple[str, Upload]]) -> Path:
    """Put the uploads at their torrent paths in ``CONTENT_ROOT/<id>/``, all at once.

    The tree is built of hard links in a staging folder and renamed into place (atomic), so the
    content folder is either absent or complete; the uploads stay intact until the database has
    committed, so a failure anywhere loses nothing and a retry starts afresh.
    """
    root = Path(settings.CONTENT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    final = root / str(content_id)
    staging = root / f".publishing-{content_id}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        for torrent_path, upload in files:
            target = staging / torrent_path
            target.parent.mkdir(parents=True, exist_ok=True)
            # Same file system (see settings): a link, not a copy.
            os.link(upload.file_path, target)
        if final.exists():  # left by an attempt that died before its commit
            shutil.rmtree(final)
        staging.rename(final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def bundle_name(title: str, content_id: int) -> str:
    return safe_component(title.replace(".", " "), fallback=f"content-{content_id}")


def publish_content(user: User, content_id: int) -> Content:
    """Turn a content's finished uploads into its files and queue the hashing.

    All or nothing: on any failure the content stays ``uploading`` with its uploads, and no
    ContentFile rows or content folder exist. Publishing again is safe: a content in
    ``hashing`` is left to its run (or queued again at once when its hashing went quiet), and a
    ``failed`` one is hashed again from its files. Raises NotFound, Conflict, OSError.
    """
    from swarm.tasks import ingest_content

    final: Path | None = None
    try:
        with transaction.atomic():
            content = own_content(user, content_id, for_update=True)
            if content.state in (Content.State.HASHING, Content.State.FAILED):
                _hash_again(content)
                content.refresh_from_db()
                return content
            if content.state != Content.State.UPLOADING:
                raise Conflict(f"Content {content.pk} is already {content.state}.")
            uploads = list(content.uploads.order_by("position"))
            if not uploads:
                raise Conflict("Nothing to publish: upload at least one file first.")
            unfinished = [u for u in uploads if not u.is_complete]
            if unfinished:
                names = ", ".join(f"{u.path} ({u.offset}/{u.length} bytes)" for u in unfinished)
                raise Conflict(f"Some uploads are not finished: {names}.")
            total = sum(u.length for u in uploads)
            if total == 0:
                raise Conflict("Nothing to publish: every file is empty.")

            if len(uploads) == 1:  # a single-file torrent, named after the file
                name = PurePosixPath(uploads[0].path).name
                files = [(name, uploads[0])]
                rows = [_file_row(name, uploads[0], 0)]
            else:  # a bundle: a folder named after the title, the files below it
                name = bundle_name(content.title, content.pk)
                files = [(f"{name}/{u.path}", u) for u in uploads]
                rows = [_file_row(u.path, u, i) for i, u in enumerate(uploads)]

            final = _lay_out(content.pk, files)
            ContentFile.objects.bulk_create(rows)
            Content.objects.filter(pk=content.pk).update(
                state=Content.State.HASHING,
                name=name,
                total_size=total,
                piece_length=torrents.piece_length_for(total),
                hash_progress=0.0,
                state_detail="",
                hash_heartbeat_at=timezone.now(),
                hash_runner="",
                hash_attempts=0,
            )
            Upload.objects.filter(content=content).delete()
            part_files = [u.file_path for u in uploads]
            # robust: the content is published by now whatever happens to these two.
            transaction.on_commit(lambda: _remove_files(part_files), robust=True)
            transaction.on_commit(lambda: ingest_content.delay(content.pk), robust=True)
            events.send_ingest(content.pk, Content.State.HASHING, 0.0, "queued for hashing")
    except BaseException:
        if final is not None:
            shutil.rmtree(final, ignore_errors=True)
        raise
    content.refresh_from_db()
    return content


def _hash_again(content: Content) -> None:
    """Publish of a content already published (inside the publishing transaction, row locked).

    ``failed``: hashed again from its files, with a fresh count of attempts. ``hashing``: left
    alone while its hashing shows signs of life; queued again at once when it went quiet.
    """
    from swarm.tasks import ingest_content

    now = timezone.now()
    if content.state == Content.State.HASHING and not _is_quiet(content.hash_heartbeat_at, now):
        return
    Content.objects.filter(pk=content.pk).update(
        state=Content.State.HASHING,
        hash_progress=0.0 if content.state == Content.State.FAILED else content.hash_progress,
        state_detail="",
        hash_heartbeat_at=now,
        hash_runner="",
        hash_attempts=0,
    )
    transaction.on_commit(lambda: ingest_content.delay(content.pk), robust=True)
    events.send_ingest(content.pk, Content.State.HASHING, 0.0, "queued for hashing")


def _is_quiet(heartbeat: datetime | None, now: datetime) -> bool:
    stale = now - timedelta(seconds=settings.SWARM_HASH_STALE_SECONDS)
    return heartbeat is None or heartbeat < stale


def _file_row(path: str, upload: Upload, position: int) -> ContentFile:
    return ContentFile(
        content_id=upload.content_id,
        path=path,
        original_name=upload.original_name,
        size=upload.length,
        position=position,
    )


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


# --- hashing ---------------------------------------------------------------------------------


class Superseded(Exception):
    """This run no longer holds its content: it went quiet and the sweep queued another."""


class ProgressReporter:
    """Hashing progress to the database and the content's group: every 1% or every second.

    Each write is conditional on this run still holding the content (``hash_runner``) and,
    every SWARM_HASH_HEARTBEAT_SECONDS, refreshes the heartbeat in the same statement: no
    write of its own, and nothing per piece beyond a clock read.
    """

    def __init__(
        self, content_id: int, runner: str = "", step: float = 0.01, interval: float = 1.0
    ) -> None:
        self.content_id = content_id
        self.runner = runner
        self.step = step
        self.interval = interval
        self.sent = -1.0
        self.sent_at = 0.0
        self.beat_at = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        progress = done / total if total else 1.0
        now = time.monotonic()
        if progress - self.sent < self.step and now - self.sent_at < self.interval:
            return
        self.sent, self.sent_at = progress, now
        fields: dict[str, object] = {"hash_progress": progress}
        if now - self.beat_at >= settings.SWARM_HASH_HEARTBEAT_SECONDS:
            fields["hash_heartbeat_at"] = timezone.now()
            self.beat_at = now
        changed = Content.objects.filter(
            pk=self.content_id, state=Content.State.HASHING, hash_runner=self.runner
        ).update(**fields)
        if not changed:
            raise Superseded(f"content {self.content_id}: no longer hashed by this run")
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
    if content.hash_runner and not _is_quiet(content.hash_heartbeat_at, timezone.now()):
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
        reporter(0, 1)
        metainfo = torrents.build_torrent(content, reporter)
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


def requeue_stalled_hashing() -> int:
    """The sweep (beat, every 30 s): contents in ``hashing`` whose hashing went quiet for
    SWARM_HASH_STALE_SECONDS are queued again, or fail after SWARM_HASH_MAX_ATTEMPTS runs that
    died. Covers a worker killed mid-hash and a queue that lost the task. Returns how many."""
    from swarm.tasks import ingest_content

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
