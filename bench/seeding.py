"""Seeding a file to aria2c from our engine next to ``aria2c --seed-ratio=0``, in one run.

    .venv/bin/python bench/seeding.py [--size-mib 1024] [--rounds 3] [--setting NAME=VALUE ...]

Writes a file of random bytes into a scratch folder in /tmp and builds one v1 torrent of it with
the product's builder (``swarm.torrents.create_metainfo``, the piece size ingest picks, no
url-list: the downloader gets every byte from the seeder). Two seeders seed that same torrent
and that same file, side by side:

  ours       the engine's ``swarm.engine.Seeder`` (seedbox settings) in its own process, driven
             as ``manage.py runswarm`` drives it: a ``Published`` record reconciled every 2 s
             with an announce URL, alerts pumped, stats read every second
  aria2c     ``aria2c --seed-ratio=0`` (seeds forever) after ``--check-integrity`` (the reference)

Each announces to its own opentracker (Debian's, whitelist mode, loopback), so the downloader
finds either one the same way and never both: every round, a fresh ``aria2c`` downloads the file
into a fresh folder (``--file-allocation=none``, no DHT/LPD/PEX, ``--seed-time=0``, no rate
limit) with the tracker of the side under test in place of the torrent's. Timed from start to
aria2c's exit; watching the file grow splits that into start, transfer and end. One warm-up
round per side comes first, not counted: it checks that the downloaded file is byte-identical,
and it makes both seeders start from verified pieces and a warm page cache (the engine adds a
just-hashed content in seed mode and verifies each piece the first time it sends it; aria2c
checks everything before it seeds). Then the sides alternate, ``--rounds`` times each, and the
median throughput ratio ours/aria2c is printed (goal >= 1.0).

aria2 1.36 connects to 127.0.0.1 peers handed out by a tracker (some clients refuse loopback
peers), so everything runs on loopback. ``--setting NAME=VALUE`` (repeatable) adds a third
seeder, "ours-tuned": the engine with those libtorrent settings on top of the seedbox settings,
to show what a candidate change to them does. Everything started is stopped and the scratch
folder removed on exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import libtorrent as lt  # noqa: E402

from bench import aria2, engine_child  # noqa: E402
from bench.common import (  # noqa: E402
    HOST,
    PYTHON,
    cpu_seconds,
    free_port,
    interrupt_on_signals,
    loads,
    running,
    section_from_output,
    write_file,
)
from swarm.torrents import TorrentSpec, create_metainfo, piece_length_for  # noqa: E402

COMMAND = ".venv/bin/python bench/seeding.py"

FILE_NAME = "bench.bin"
# A hang guard per download, not a measurement.
ROUND_TIMEOUT = 900.0


# --- the bench --------------------------------------------------------------------------------


@dataclass
class Round:
    seconds: float  # aria2c started .. aria2c exited: what the bench is judged on
    start: float  # .. the first bytes on disk
    transfer: float  # first bytes .. the whole file on disk
    downloader_cpu: float
    seeder_cpu: float

    def mb_per_s(self, size: int) -> float:
        return size / self.seconds / 1e6

    def transfer_mb_per_s(self, size: int) -> float:
        return size / self.transfer / 1e6


@dataclass
class Side:
    name: str
    tracker_port: int
    process: subprocess.Popen[bytes] | None = None
    warmup: Round | None = None
    rounds: list[Round] = field(default_factory=list)

    def median_mb_per_s(self, size: int) -> float:
        return statistics.median(r.mb_per_s(size) for r in self.rounds)

    def median_transfer_mb_per_s(self, size: int) -> float:
        return statistics.median(r.transfer_mb_per_s(size) for r in self.rounds)


def build_torrent(content_dir: Path, size: int, out: Path) -> str:
    """The product's builder, v1-only, ingest's piece size; returns the infohash."""
    spec = TorrentSpec(
        name=FILE_NAME,
        files=[("", size)],
        piece_length=piece_length_for(size),
        # Every client here replaces it with its side's tracker. Should one not, it finds no
        # tracker on this port and stalls, rather than reaching the other side's seeder.
        announce=f"http://{HOST}:9/announce",
    )
    out.write_bytes(create_metainfo(spec, content_dir))
    return str(lt.torrent_info(str(out)).info_hashes().v1)


def wait_for_seeder(side: Side, infohash: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while aria2.seeders_on(side.tracker_port, infohash) < 1:
        if side.process is not None and side.process.poll() is not None:
            raise RuntimeError(f"the {side.name} seeder exited ({side.process.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {side.name} seeder never announced itself as a seed")
        time.sleep(0.2)


def engine_args(work: Path, side: Side, torrent: Path, settings: dict[str, Any]) -> list[str]:
    config = work / f"{side.name}.json"
    config.write_text(
        json.dumps(
            {
                "torrent": str(torrent),
                "save_path": str(work / "content"),
                "file_name": FILE_NAME,
                "port": free_port(),
                "state_dir": str(work / f"{side.name}-state"),
                "announce": f"http://{HOST}:{side.tracker_port}/announce",
                "settings": settings,
                "log": str(work / f"{side.name}-engine.log"),
            }
        )
    )
    return [PYTHON, str(Path(__file__).resolve()), "--serve-engine", str(config)]


def written(path: Path) -> int:
    """Bytes of the sparse download written so far (ext4 counts delayed allocations too)."""
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def download(work: Path, side: Side, torrent: Path, label: str, *, check: bool) -> Round:
    """One timed download from ``side``; with ``check``, compares the file with the original."""
    assert side.process is not None
    source = work / "content" / FILE_NAME
    size = source.stat().st_size
    folder = work / f"download-{side.name}-{label}"
    folder.mkdir()
    target = folder / FILE_NAME
    seeder_before = cpu_seconds(side.process.pid)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    first_byte = last_byte = 0.0
    with open(work / f"download-{side.name}-{label}.log", "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            aria2.downloader_args(folder, side.tracker_port, torrent),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            # Watching the file grow splits the time into the start (announce, connect,
            # aria2c's request window opening), the transfer, and the end (aria2c's exit).
            while True:
                try:
                    process.wait(0.01)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.perf_counter()
                if now - started > ROUND_TIMEOUT:
                    raise RuntimeError(f"the download from {side.name} hangs")
                if not last_byte:
                    done = written(target)
                    if done and not first_byte:
                        first_byte = now
                    if done >= size:
                        last_byte = now
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    ended = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    seeder_cpu = cpu_seconds(side.process.pid) - seeder_before
    try:
        if process.returncode:
            raise RuntimeError(f"aria2c failed ({process.returncode}) downloading from {side.name}")
        if check and not filecmp.cmp(source, target, shallow=False):
            raise RuntimeError(f"the file downloaded from {side.name} differs from the original")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    downloader_cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    return Round(
        seconds=ended - started,
        start=(first_byte or ended) - started,
        transfer=(last_byte or ended) - (first_byte or started),
        downloader_cpu=downloader_cpu,
        seeder_cpu=seeder_cpu,
    )


def parse_settings(values: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs as libtorrent settings (ints, true/false, or strings)."""
    settings: dict[str, Any] = {}
    for item in values:
        name, _, raw = item.partition("=")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif raw.lstrip("-").isdigit():
            value = int(raw)
        settings[name] = value
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3, help="timed downloads per side")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="NAME=VALUE",
        help="add a seeder: the engine with this libtorrent setting on top (repeatable)",
    )  # fmt: skip
    parser.add_argument("--serve-engine", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_engine:
        engine_child.serve(options.serve_engine)
        return

    interrupt_on_signals()
    size = options.size_mib * 1024 * 1024
    piece_length = piece_length_for(size)
    extra = parse_settings(options.setting)
    sides = [Side("ours", free_port()), Side("aria2c", free_port())]
    if extra:
        sides.insert(1, Side("ours-tuned", free_port()))
    work = Path(tempfile.mkdtemp(prefix="btt-bench-seed-", dir="/tmp"))
    print(f"load average before: {loads()}")
    try:
        source = work / "content" / FILE_NAME
        print(f"writing a {options.size_mib} MiB file into {work} ...", flush=True)
        write_file(source, size)
        torrent = work / "bench.torrent"
        infohash = build_torrent(source.parent, size, torrent)
        with ExitStack() as stack:
            for side in sides:
                tracker = work / f"tracker-{side.name}"
                stack.enter_context(aria2.opentracker(tracker, side.tracker_port, infohash))
                if side.name == "aria2c":
                    args = aria2.seeder_args(work / "content", side.tracker_port, torrent)
                else:
                    args = engine_args(work, side, torrent, extra if side.name != "ours" else {})
                side.process = stack.enter_context(
                    running(args, work / f"{side.name}.log", own_session=True)
                )
            for side in sides:
                wait_for_seeder(side, infohash)
            print(f"seeders up: {', '.join(s.name for s in sides)}; load average {loads()}")
            for side in sides:
                side.warmup = download(work, side, torrent, "warmup", check=True)
                print(
                    f"  warm-up {side.name:10} {side.warmup.mb_per_s(size):6.1f} MB/s "
                    f"({side.warmup.seconds:.2f} s), file identical",
                    flush=True,
                )
            # Alternated, so that a neighbour's load on the shared machine weighs on each alike.
            for number in range(1, options.rounds + 1):
                for side in sides:
                    run = download(work, side, torrent, str(number), check=False)
                    side.rounds.append(run)
                    print(
                        f"  round {number} {side.name:10} {run.mb_per_s(size):6.1f} MB/s "
                        f"({run.seconds:.2f} s = start {run.start:.2f} + transfer "
                        f"{run.transfer:.2f} at {run.transfer_mb_per_s(size):.0f} MB/s + end "
                        f"{run.seconds - run.start - run.transfer:.2f}; CPU s: seeder "
                        f"{run.seeder_cpu:.2f}, downloader {run.downloader_cpu:.2f}; "
                        f"load {os.getloadavg()[0]:.2f})",
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(
        f"{options.size_mib} MiB file, piece length {piece_length // 1024} KiB, v1; "
        f"{options.rounds} alternated rounds after one warm-up each; aria2c {aria2.version()} "
        f"downloading, libtorrent {lt.__version__}; {os.cpu_count()} CPUs; "
        f"load average after: {loads()}"
    )
    if extra:
        print(f"ours-tuned: the seedbox settings plus {json.dumps(extra)}")
    print(
        f"{'seeder':<11} {'MB/s':>7} {'rounds MB/s':>24} {'transfer MB/s':>14} "
        f"{'seeder CPU s':>13} {'downloader CPU s':>17}"
    )
    for side in sides:
        rounds = " ".join(f"{r.mb_per_s(size):.0f}" for r in side.rounds)
        seeder_cpu = statistics.median(r.seeder_cpu for r in side.rounds)
        downloader_cpu = statistics.median(r.downloader_cpu for r in side.rounds)
        print(
            f"{side.name:<11} {side.median_mb_per_s(size):>7.1f} {rounds:>24} "
            f"{side.median_transfer_mb_per_s(size):>14.1f} {seeder_cpu:>13.2f} "
            f"{downloader_cpu:>17.2f}"
        )
    print("(medians; MB/s = file size / aria2c's run time; transfer = first to last byte)")
    reference = sides[-1]
    for side in sides[:-1]:
        ratio = side.median_mb_per_s(size) / reference.median_mb_per_s(size)
        transfer = side.median_transfer_mb_per_s(size) / reference.median_transfer_mb_per_s(size)
        # Throughput ratio of each pair of rounds run back to back.
        paired = sorted(
            theirs.seconds / mine.seconds
            for mine, theirs in zip(side.rounds, reference.rounds, strict=True)
        )
        print(
            f"ratio {side.name}/aria2c: {ratio:.2f}x (goal >= 1.0); per round "
            f"{' '.join(f'{r:.2f}' for r in paired)}; transfer only {transfer:.2f}x"
        )


def section(argv: Sequence[str] = ()) -> str:
    """Runs the bench (its defaults unless ``argv``); the section quotes what it prints."""
    return section_from_output("Seeding", COMMAND, __doc__ or "", main, argv)


if __name__ == "__main__":
    try:
        print(section(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit("interrupted; everything started was stopped")
