"""Publishing: a content's finished uploads become its files, and its hashing is queued.

``publish_content`` moves the uploads into ``CONTENT_ROOT/<id>/`` under the content's row lock,
all or nothing, and turns the content ``hashing``; ``swarm.hashing`` takes it from there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from swarm import events, hashing, torrents
from swarm.contents import Conflict, own_content
from swarm.models import Content, ContentFile, Upload
from swarm.names import safe_component


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
            hashing.queue_hashing(content.pk)
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
    now = timezone.now()
    quiet = hashing.is_quiet(content.hash_heartbeat_at, now)
    if content.state == Content.State.HASHING and not quiet:
        return
    Content.objects.filter(pk=content.pk).update(
        state=Content.State.HASHING,
        hash_progress=0.0 if content.state == Content.State.FAILED else content.hash_progress,
        state_detail="",
        hash_heartbeat_at=now,
        hash_runner="",
        hash_attempts=0,
    )
    hashing.queue_hashing(content.pk)
    events.send_ingest(content.pk, Content.State.HASHING, 0.0, "queued for hashing")


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
