"""Ingest hashing next to mktorrent, on the same file with the same piece size, in one run.

    .venv/bin/python bench/ingest.py [--size-mib 1024] [--rounds 3]

Writes a file of random bytes (bench/out/ingest/, reused between runs), reads it once so both
tools start from a warm page cache, then alternates our builder (``swarm.torrents.
create_metainfo``, v1-only, the piece size ingest picks for that size) and ``mktorrent -l`` of the
same piece size, ``--rounds`` times each, at two thread counts:

  1 thread    ours with one hashing thread; ``mktorrent -t 1`` (one hashing thread, plus the
              thread mktorrent always reads the file with)
  all cores   ours and ``mktorrent -t N`` with N = the number of CPUs

Ours is timed around the call (what the ingest task spends), mktorrent as a process (its start
is about a millisecond). Prints the best time of each and the ratio ours/mktorrent (goal <= 1.1),
and checks that both produced the same piece hashes. libtorrent's own ``set_piece_hashes`` (one
hashing thread; ingest uses it for hybrid torrents only) is timed too, for reference.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import libtorrent as lt  # noqa: E402

from swarm.torrents import TorrentSpec, create_metainfo, piece_length_for  # noqa: E402

MKTORRENT = shutil.which("mktorrent") or "/usr/bin/mktorrent"
FILE_NAME = "bench.bin"


def prepare(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * 1024 * 1024))
            out.write(chunk)
            left -= len(chunk)


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(16 * 1024 * 1024):
            pass


def pieces(torrent: bytes) -> bytes:
    info = cast(dict[bytes, Any], lt.bdecode(torrent))[b"info"]
    return cast(bytes, info[b"pieces"])


def run_ours(path: Path, piece_length: int, threads: int) -> tuple[float, bytes]:
    spec = TorrentSpec(name=path.name, files=[("", path.stat().st_size)], piece_length=piece_length)
    started = time.perf_counter()
    torrent = create_metainfo(spec, path.parent, threads=threads)
    return time.perf_counter() - started, pieces(torrent)


def run_libtorrent(path: Path, piece_length: int) -> tuple[float, bytes]:
    """libtorrent's own set_piece_hashes (it hashes on one thread), for reference."""
    entries = [lt.create_file_entry(path.name, path.stat().st_size)]
    ct = lt.create_torrent(entries, piece_length, lt.create_torrent.v1_only)
    started = time.perf_counter()
    lt.set_piece_hashes(ct, str(path.parent))
    seconds = time.perf_counter() - started
    return seconds, pieces(lt.bencode(ct.generate()))


def run_mktorrent(path: Path, piece_length: int, threads: int, out: Path) -> tuple[float, bytes]:
    out.unlink(missing_ok=True)
    args = [MKTORRENT, "-l", str(piece_length.bit_length() - 1), "-t", str(threads)]
    args += ["-a", "http://127.0.0.1/announce", "-o", str(out), str(path)]
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, pieces(out.read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    size = args.size_mib * 1024 * 1024
    path = BASE_DIR / "bench" / "out" / "ingest" / FILE_NAME
    prepare(path, size)
    warm(path)
    piece_length = piece_length_for(size)
    cpus = os.cpu_count() or 1
    num_pieces = -(-size // piece_length)
    print(
        f"file: {size // 2**20} MiB, piece length {piece_length // 1024} KiB ({num_pieces} "
        f"pieces), {cpus} CPUs, libtorrent {lt.__version__}, Python {platform.python_version()}"
    )

    results: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "mk.torrent"
        for label, threads in (("1 thread", 1), (f"{cpus} threads", cpus)):
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(args.rounds):
                seconds, our_pieces = run_ours(path, piece_length, threads)
                ours.append(seconds)
                seconds, their_pieces = run_mktorrent(path, piece_length, threads, out)
                theirs.append(seconds)
                if our_pieces != their_pieces:
                    raise SystemExit("piece hashes differ from mktorrent's")
            results.append((label, min(ours), min(theirs)))
        reference = [run_libtorrent(path, piece_length) for _ in range(args.rounds)]
        if any(hashes != our_pieces for _, hashes in reference):
            raise SystemExit("piece hashes differ from libtorrent's")

    print(f"{'threads':<12} {'ours (s)':>9} {'mktorrent (s)':>14} {'ours/mktorrent':>15}")
    for label, ours_best, theirs_best in results:
        ratio = ours_best / theirs_best
        print(f"{label:<12} {ours_best:>9.3f} {theirs_best:>14.3f} {ratio:>14.2f}x")
    lt_best = min(seconds for seconds, _ in reference)
    print(f"{'libtorrent':<12} {lt_best:>9.3f} {'':>14} {lt_best / results[0][2]:>14.2f}x"
          "  (set_piece_hashes, for reference; vs mktorrent -t 1)")  # fmt: skip
    print(f"best of {args.rounds} warm rounds each, alternating; goal <= 1.10x; pieces identical")


if __name__ == "__main__":
    main()
