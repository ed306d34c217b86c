"""Where uploaded bytes wait for publishing: quotas, the upload rows and their files.

``create_upload`` opens a resumable upload into a content that is still ``uploading`` (checked
against the size limit and the creator's quota before any byte arrives), ``UploadWriter``
appends its bytes durably, ``terminate_upload`` drops it, and the hourly
``purge_expired_uploads`` frees what nobody finished. The tus protocol that drives these is in
``swarm.uploads``.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from swarm.contents import Conflict, Gone, Locked, NotFound, TooLarge, creator_of, own_content
from swarm.models import Content, Upload
from swarm.names import place

# An unfinished upload nobody touched for this long is gone (404/410) and frees its quota.
UPLOAD_EXPIRES_AFTER = timedelta(days=7)


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
