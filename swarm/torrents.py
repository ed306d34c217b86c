"""Torrent metainfo with libtorrent: building the canonical .torrent, per-user copies, magnets.

The canonical metainfo (stored on ``Content.metainfo``) announces to ``SITE_URL/announce`` with
no passkey and carries the canonical web seed. Per-user copies replace ``announce`` and
``url-list``, which live outside the info dict, so every copy has the same infohash.

Pieces of v1-only torrents are hashed here, on several threads (OpenSSL's SHA-1 through
hashlib releases the GIL): libtorrent's ``set_piece_hashes`` hashes on one thread, about 1.1x the
time of ``mktorrent -t 1`` and 2x that of mktorrent on two cores (bench/ingest.py). Hybrid
torrents need v2 merkle trees per file, so libtorrent hashes those itself.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urlsplit

import libtorrent as lt
from django.conf import settings

if TYPE_CHECKING:
    from accounts.models import User
    from swarm.models import Content

MIN_PIECE_LENGTH = 256 * 1024
MAX_PIECE_LENGTH = 16 * 1024 * 1024
# Powers of two put the piece count between half this and this: 1 GiB -> 512 KiB pieces, 2048
# of them. Fewer pieces bloat the .torrent less; more make the first verified piece come sooner.
MAX_PIECES = 2500
CREATED_BY = f"BTT Creators (libtorrent {lt.__version__})"
# Work handed to one hashing thread at a time: big enough that queueing costs nothing.
_BATCH_BYTES = 8 * 1024 * 1024

# (pieces hashed, pieces in all)
ProgressCallback = Callable[[int, int], None]


class IngestError(Exception):
    """The files on disk are not what the database says (missing, shorter, longer)."""


def piece_length_for(total_size: int) -> int:
    """The smallest power of two giving at most MAX_PIECES pieces, within 256 KiB .. 16 MiB."""
    wanted = max(1, math.ceil(total_size / MAX_PIECES))
    length = 1 << (wanted - 1).bit_length()
    return min(max(length, MIN_PIECE_LENGTH), MAX_PIECE_LENGTH)


@dataclass(frozen=True)
class TorrentSpec:
    """Everything that goes into a .torrent, independent of the database."""

    name: str  # the single file's name, or the bundle's folder
    files: Sequence[tuple[str, int]]  # (path below ``name``, size); one ("", size) if single
    piece_length: int
    private: bool = False
    hybrid: bool = False
    announce: str = ""
    url_seed: str = ""
    # Kept in the info dict, so two contents with the same files still get distinct infohashes
    # (the database keys everything by infohash). Private trackers use this key the same way.
    source: str = ""

    @property
    def is_single_file(self) -> bool:
        return len(self.files) == 1 and self.files[0][0] == ""

    def torrent_paths(self) -> list[str]:
        if self.is_single_file:
            return [self.name]
        return [f"{self.name}/{path}" for path, _ in self.files]

    @property
    def total_size(self) -> int:
        return sum(size for _, size in self.files)


def create_metainfo(
    spec: TorrentSpec,
    save_path: Path,
    on_progress: ProgressCallback | None = None,
    threads: int | None = None,
) -> bytes:
    """Hash the files below ``save_path`` and return the bencoded .torrent.

    ``on_progress`` is called in the calling thread after every piece (or batch of pieces).
    Raises IngestError when a file is missing or its size differs from the spec.
    """
    paths = spec.torrent_paths()
    disk_files = [
        (save_path / path, size) for path, (_, size) in zip(paths, spec.files, strict=True)
    ]
    _check_files(disk_files)
    entries = [
        lt.create_file_entry(path, size) for path, (_, size) in zip(paths, spec.files, strict=True)
    ]
    # Hybrids are padded per file (BEP 47); the pad after the last file only adds a bogus file.
    flags = (
        lt.create_torrent.canonical_files_no_tail_padding
        if spec.hybrid
        else lt.create_torrent.v1_only
    )
    ct = lt.create_torrent(entries, spec.piece_length, flags)
    ct.set_creator(CREATED_BY)
    ct.set_priv(spec.private)
    if spec.announce:
        ct.add_tracker(spec.announce)
    if spec.url_seed:
        ct.add_url_seed(spec.url_seed)
    num_pieces = ct.num_pieces()
    report = on_progress or (lambda done, total: None)

    if spec.hybrid:
        done = 0

        def piece_hashed(index: int) -> None:
            nonlocal done
            done += 1
            report(done, num_pieces)

        lt.set_piece_hashes(ct, str(save_path), piece_hashed)
    else:
        for index, digest in enumerate(v1_piece_hashes(disk_files, spec.piece_length, threads)):
            ct.set_hash(index, digest)
            report(index + 1, num_pieces)

    metainfo: dict[bytes, Any] = dict(ct.generate())
    if spec.source:
        metainfo[b"info"][b"source"] = spec.source.encode()
    return lt.bencode(metainfo)


def _check_files(files: Sequence[tuple[Path, int]]) -> None:
    for path, size in files:
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            raise IngestError(f"file {path.name!r} is missing") from None
        if actual != size:
            raise IngestError(f"file {path.name!r} has {actual} bytes, expected {size}")


def default_hash_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def v1_piece_hashes(
    files: Sequence[tuple[Path, int]], piece_length: int, threads: int | None = None
) -> Iterator[bytes]:
    """SHA-1 of every v1 piece of ``files`` laid end to end, in order.

    v1 pieces run across file boundaries (no pad files in v1-only torrents), so a piece may be
    read from several files. Memory: one piece buffer per thread.
    """
    sizes = [size for _, size in files]
    starts = [0]
    for size in sizes[:-1]:
        starts.append(starts[-1] + size)
    total = sum(sizes)
    num_pieces = math.ceil(total / piece_length)
    per_batch = max(1, _BATCH_BYTES // piece_length)
    local = threading.local()
    fds = [os.open(path, os.O_RDONLY) for path, _ in files]
    try:
        for fd in fds:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

        def read_span(offset: int, view: memoryview) -> None:
            index = bisect.bisect_right(starts, offset) - 1
            filled = 0
            while filled < len(view):
                if index >= len(fds):
                    raise IngestError("the files are shorter than recorded")
                in_file = offset + filled - starts[index]
                want = min(len(view) - filled, sizes[index] - in_file)
                if want > 0:
                    got = os.preadv(fds[index], [view[filled : filled + want]], in_file)
                    if got != want:
                        name = files[index][0].name
                        raise IngestError(f"file {name!r} got shorter while it was hashed")
                    filled += got
                index += 1

        def hash_batch(first: int) -> list[bytes]:
            buffer: bytearray | None = getattr(local, "buffer", None)
            if buffer is None:
                buffer = local.buffer = bytearray(piece_length)
            digests = []
            for piece in range(first, min(first + per_batch, num_pieces)):
                offset = piece * piece_length
                view = memoryview(buffer)[: min(piece_length, total - offset)]
                read_span(offset, view)
                digests.append(hashlib.sha1(view).digest())  # noqa: S324 (BitTorrent v1 is SHA-1)
            return digests

        with ThreadPoolExecutor(max_workers=threads or default_hash_threads()) as pool:
            for digests in pool.map(hash_batch, range(0, num_pieces, per_batch)):
                yield from digests
    finally:
        for fd in fds:
            os.close(fd)


@dataclass(frozen=True)
class ParsedTorrent:
    infohash: str  # v1, hex
    infohash_v2: str | None  # hybrid only, hex
    piece_length: int
    private: bool
    paths: list[str]  # the real files, pad files left out


def parse(metainfo: bytes) -> ParsedTorrent:
    """What the platform needs from a .torrent, read by libtorrent (so it is one it accepts)."""
    info = lt.torrent_info(metainfo)
    hashes = info.info_hashes()
    layout = info.layout()
    paths = [
        layout.file_path(i)
        for i in range(layout.num_files())
        if not layout.file_flags(i) & lt.file_storage.flag_pad_file
    ]
    return ParsedTorrent(
        infohash=str(hashes.v1),
        infohash_v2=str(hashes.v2) if hashes.has_v2() else None,
        piece_length=info.piece_length(),
        private=info.priv(),
        paths=paths,
    )


# --- from a Content ----------------------------------------------------------------------------


def spec_for(content: Content) -> TorrentSpec:
    from swarm.webseed.tokens import webseed_url_for

    files = list(content.files.order_by("position"))
    if not files:
        raise IngestError(f"content {content.pk} has no files")
    try:
        url_seed = webseed_url_for(None, content)
    except ValueError:  # paid content: only the per-user copies carry a (signed) web seed
        url_seed = ""
    # One file is a single-file torrent named ``content.name`` (as in swarm.webseed.tokens).
    single = len(files) == 1
    return TorrentSpec(
        name=content.name,
        files=[("", files[0].size)] if single else [(f.path, f.size) for f in files],
        piece_length=content.piece_length or piece_length_for(sum(f.size for f in files)),
        private=content.is_private,
        hybrid=content.hybrid,
        announce=settings.SITE_URL + "/announce",
        url_seed=url_seed,
        source=f"{urlsplit(settings.SITE_URL).hostname}/{content.pk}",
    )


def build_torrent(content: Content, on_progress: ProgressCallback | None = None) -> bytes:
    """Hash ``content``'s files in ``CONTENT_ROOT/<id>/`` and return its canonical metainfo."""
    return create_metainfo(spec_for(content), settings.CONTENT_ROOT / str(content.pk), on_progress)


def announce_url(user: User) -> str:
    from django.urls import reverse

    from swarm.services import active_passkey

    return settings.SITE_URL + reverse("announce", args=[active_passkey(user).key])


def personal_metainfo(content: Content, user: User) -> bytes:
    """``content``'s .torrent for ``user``: their passkey announce and their web-seed URL on
    each node that holds it (``swarm.webseed.doors``)."""
    from swarm.webseed.doors import webseed_urls_for

    if content.metainfo is None:
        raise ValueError(f"content {content.pk} has no metainfo yet")
    metainfo = cast(dict[bytes, Any], lt.bdecode(bytes(content.metainfo)))
    # Only keys outside the info dict change; bencoding is canonical, so the info dict is
    # re-encoded byte for byte and the infohash stays the same for everyone.
    metainfo[b"announce"] = announce_url(user).encode()
    metainfo.pop(b"announce-list", None)
    metainfo[b"url-list"] = [url.encode() for url in webseed_urls_for(user, content)]
    return lt.bencode(metainfo)


def magnet_uri(content: Content, user: User) -> str:
    """A magnet link for ``user``: infohash(es), name, size, their tracker and web seeds."""
    from swarm.webseed.doors import webseed_urls_for

    if content.metainfo is None or not content.infohash:
        raise ValueError(f"content {content.pk} has no metainfo yet")
    params = [("xt", f"urn:btih:{content.infohash}")]
    if content.hybrid:
        v2 = parse(bytes(content.metainfo)).infohash_v2
        if v2:
            # BEP 9 / BEP 52: the multihash of the v2 infohash (0x12 sha2-256, 0x20 bytes).
            params.append(("xt", f"urn:btmh:1220{v2}"))
    params += [
        ("dn", content.name),
        ("xl", str(content.total_size)),
        ("tr", announce_url(user)),
    ]
    params += [("ws", url) for url in webseed_urls_for(user, content)]
    return "magnet:?" + "&".join(f"{key}={quote(value, safe=':')}" for key, value in params)
