"""The engine's saved state: libtorrent's resume data of every content, in one file.

``resume.batch`` in the state folder is a bencoded dict of infohash -> libtorrent's resume
buffer. All the saves asked for at once (the periodic save, the saves of contents just added,
the save on stop) are collected and written in one go: a temporary file, one fsync, a rename,
one fsync of the folder. One file per content cost two fsyncs per content, 8-13 s for 1,000
contents on stop, past the 10 s docker and systemd allow before SIGKILL. (Per-content files
written without fsync and one ``syncfs`` would sync every dirty page of the file system, uploads
being written included: no bound on the time.) A node upgraded in place still reads its
per-content ``<infohash>.resume`` files, and deletes them once their contents are in the batch
file on disk.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Final

import libtorrent as lt

# Every module of the engine logs as "swarm.engine", the name runswarm's output is read by.
log = logging.getLogger("swarm.engine")

_TMP_SUFFIX = ".tmp"
RESUME_BATCH: Final = "resume.batch"
# Saves still outstanding after this long do not hold back the ones already in.
RESUME_FLUSH_MAX_DELAY: Final = 5.0
_LEGACY_RESUME = re.compile(r"[0-9a-f]{40}\.resume")


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a reader (or a restart after SIGKILL) sees old or new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself survives a power cut only once the folder is on disk too.
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class ResumeStore:
    """The resume data the batch file holds, or will at the next write, and the saves awaited.

    ``pending`` holds the infohashes whose resume data libtorrent was asked for and has not
    sent yet; ``flush`` waits for them (up to RESUME_FLUSH_MAX_DELAY) before writing.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        # A process killed in the middle of a write leaves its temporary file behind.
        for pattern in (f"*.resume*{_TMP_SUFFIX}", f"{RESUME_BATCH}*{_TMP_SUFFIX}"):
            for leftover in state_dir.glob(pattern):
                leftover.unlink(missing_ok=True)
        # infohash -> resume buffer: what the batch file holds, or will at the next write.
        self._resume: dict[str, bytes] = {}
        self._dirty_since: float | None = None
        self._next_flush_attempt = 0.0
        # Per-content files of an older engine, deleted once the batch file holds them.
        self._legacy: list[Path] = []
        self.pending: set[str] = set()
        self._load()

    def __contains__(self, infohash: str) -> bool:
        return infohash in self._resume

    def get(self, infohash: str) -> bytes | None:
        return self._resume.get(infohash)

    def store(self, infohash: str, data: bytes) -> None:
        self._resume[infohash] = data
        self._mark_dirty()

    def forget(self, infohash: str) -> None:
        if self._resume.pop(infohash, None) is not None:
            self._mark_dirty()

    def _mark_dirty(self) -> None:
        if self._dirty_since is None:
            self._dirty_since = time.monotonic()

    def _load(self) -> None:
        """Read the batch file, and per-content files an older engine left; never raise."""
        batch = self.state_dir / RESUME_BATCH
        try:
            decoded = lt.bdecode(batch.read_bytes())
            if not isinstance(decoded, dict):
                raise RuntimeError("not a bencoded dict")
            for key, value in decoded.items():
                infohash = key.decode("ascii") if isinstance(key, bytes) else str(key)
                if isinstance(value, bytes):
                    self._resume[infohash] = value
        except FileNotFoundError:
            pass
        except (OSError, RuntimeError, UnicodeDecodeError) as exc:
            # A torn or damaged file: its contents are added as freshly published (seed mode,
            # each piece verified the first time it is sent), and a good file replaces it.
            log.warning("ignoring the saved state file %s: %s", batch, exc)
            self._resume.clear()
            self._mark_dirty()
        for path in sorted(self.state_dir.glob("*.resume")):
            if not _LEGACY_RESUME.fullmatch(path.name):
                continue
            infohash = path.name.removesuffix(".resume")
            if infohash not in self._resume:
                try:
                    self._resume[infohash] = path.read_bytes()
                except OSError as exc:
                    log.warning("ignoring resume data for %s: %s", infohash, exc)
            self._legacy.append(path)
        if self._legacy:
            log.info("read %s per-content state files", len(self._legacy))
            self._mark_dirty()

    def flush(self, *, force: bool = False) -> None:
        """Write the batch file if anything changed: once every save asked for is in, or after
        RESUME_FLUSH_MAX_DELAY seconds, or now (``force``)."""
        since = self._dirty_since
        if since is None:
            return
        now = time.monotonic()
        if not force and (
            now < self._next_flush_attempt
            or (self.pending and now - since < RESUME_FLUSH_MAX_DELAY)
        ):
            return
        try:
            entries: dict[bytes, lt._Entry] = {k.encode(): v for k, v in self._resume.items()}
            _write_atomically(self.state_dir / RESUME_BATCH, lt.bencode(entries))
        except OSError:
            # A full disk must not stop the seeding: the state stays in memory, tried again.
            log.exception("writing the saved state failed; retrying")
            self._next_flush_attempt = now + RESUME_FLUSH_MAX_DELAY
            return
        self._dirty_since = None
        for path in self._legacy:
            path.unlink(missing_ok=True)
        self._legacy.clear()
