"""Replication: the time for a new engine node to take a copy of a 1 GiB item over BitTorrent,
next to aria2c fetching the same torrent from the same seeder, in one run.

    .venv/bin/python bench/replication.py [--size-mib 1024] [--rounds 3]
                                          [--setting NAME=VALUE ...]

A scratch data folder in /tmp (embedded SQLite and Redis, migrated; production settings over
plain HTTP on loopback, so the nodes skip the system checks that want HTTPS), the real ASGI
application under uvicorn in a thread (the tracker everyone announces to), one free item of
``--size-mib`` random bytes uploaded through the upload code and hashed, and the origin node
(``manage.py runswarm`` on 127.0.0.2, data directory CONTENT_ROOT: where the upload landed)
seeding it. Then, in alternating rounds:

  ours     a new node (``runswarm`` on 127.0.0.3, an empty data directory of its own) starts
           and sends its first heartbeat; the clock starts, the placement pass runs
           (``swarm.placement.place_contents``, as celery beat runs it; target 2, so the new
           node gets the item), and stops when the new node's ``NodeSeeding`` row says
           ``seeding``. The node is then stopped and its rows deleted, for the next round's.
  aria2c   ``aria2c`` on a fan's .torrent of the item (their passkey announce to the same
           tracker; ``url-list`` removed: every byte from the peers the tracker hands out, the
           origin) into a fresh folder (``--file-allocation=none``, no DHT/LPD/PEX,
           ``--seed-time=0``, no rate limit), timed from start to exit.

Nodes fetch from each other without web seeds (``swarm.engine.torrent_params``): both sides
take every byte from the origin's libtorrent. One warm-up round per side first, not counted:
both copies are compared with the upload, and the origin (seed mode after hashing) has verified
every piece once. The figure is the median of the per-round ratios ours / aria2c (goal <= 1.1).
Ours is split into placement (the pass), start (until the row says ``fetching``: the node's
next reconcile, every SWARM_RECONCILE_SECONDS, 2 s as deployed; the pass runs half a period
after the node's first reconcile, the mean wait of a pass at any moment) and fetch (until the
row says ``seeding``: libtorrent done, then the node's next one-second tick wrote it). When the
goal is missed, one more fetch (not counted) runs under ``py-spy record --native --threads`` on
the new node and its top functions are printed. ``--setting NAME=VALUE`` (repeatable) runs
every node with that libtorrent setting on top of the seedbox settings (this script patches
``seedbox_settings``, then runs ``runswarm``). Everything started is stopped and the scratch
folder removed on exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import libtorrent as lt  # noqa: E402

from bench import aria2, replication_node  # noqa: E402
from bench.common import (  # noqa: E402
    PYTHON,
    Paired,
    cpu_seconds,
    free_port,
    interrupt_on_signals,
    loads,
    running,
    section_from_output,
    wait_until,
    write_file,
)
from bench.seeding import parse_settings  # noqa: E402

if TYPE_CHECKING:
    from swarm.models import Content

COMMAND = ".venv/bin/python bench/replication.py"
ORIGIN = "origin"
ORIGIN_ADDRESS = "127.0.0.2"
NEW_ADDRESS = "127.0.0.3"
FILE_NAME = "item.bin"
# Hang guards, not measurements.
ROUND_TIMEOUT = 900.0
START_TIMEOUT = 120.0
GOAL = 1.1  # ours / aria2c, time


@dataclass
class Fetch:
    seconds: float  # what the bench is judged on
    placing: float = 0.0  # ours: the placement pass
    start: float = 0.0  # ours: pass done .. the node's row says fetching
    cpu: float = 0.0  # the fetching process (the new node, or aria2c)
    seeder_cpu: float = 0.0  # the origin node meanwhile


@contextmanager
def scratch_django(data_dir: Path) -> Iterator[dict[str, str]]:
    """Django with production settings (over plain HTTP) on a scratch data folder, migrated;
    yields the environment the child processes share it with."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="btt_platform.settings",
        DEBUG="false",
        SECRET_KEY="bench-" + os.urandom(24).hex(),
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        BTT_DATA_DIR=str(data_dir),
        CONTENT_ROOT=str(data_dir / "content"),
        UPLOAD_ROOT=str(data_dir / "uploads"),
        LOG_LEVEL="WARNING",
        CLOCK_OFFSET_FILE=str(data_dir / "clock-offset"),
        PYTHONUNBUFFERED="1",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from btt_platform import embedded

    try:
        call_command("migrate", verbosity=0)
        yield dict(os.environ)
    finally:
        connections.close_all()
        with suppress(Exception):
            embedded.stop(data_dir)


def publish_item(size: int, data_dir: Path) -> Content:
    """A free item of ``size`` random bytes through the upload code, hashed in this process."""
    from btt_platform.celery import app as celery_app
    from creators.models import Creator
    from swarm import publishing
    from swarm.models import Content
    from tests.fixtures.content import uploaded
    from tests.fixtures.personas import TRON_ADDRESS, make_user

    source = data_dir / "source.bin"
    write_file(source, size)
    user = make_user("maker")
    creator = Creator.objects.create(
        user=user, handle="maker", display_name="The Maker", payout_address=TRON_ADDRESS
    )
    celery_app.conf.task_always_eager = True
    content = uploaded(
        creator, {FILE_NAME: source.read_bytes()}, title="Film", access=Content.Access.FREE
    )
    publishing.publish_content(creator.user, content.pk)
    content.refresh_from_db()
    if content.state != Content.State.SEEDING:
        raise RuntimeError(f"publishing failed: {content.state_detail}")
    return content


def fan_torrent(content: Content, out: Path) -> None:
    """A fan's .torrent of ``content`` without its url-list: peers only."""
    from swarm import torrents
    from tests.fixtures.personas import make_user

    metainfo = cast(
        dict[bytes, Any], lt.bdecode(torrents.personal_metainfo(content, make_user("fan")))
    )
    metainfo.pop(b"url-list", None)
    out.write_bytes(lt.bencode(metainfo))


def node_state(name: str, content: Content) -> str | None:
    from swarm.models import NodeSeeding

    row = NodeSeeding.objects.filter(node__name=name, content=content).first()
    return row.state if row else None


class Cluster:
    """The origin node, and a new node per round, as ``manage.py runswarm`` processes."""

    def __init__(
        self,
        stack: ExitStack,
        work: Path,
        env: dict[str, str],
        content: Content,
        settings: dict[str, Any],
    ) -> None:
        self.command = [PYTHON, "manage.py", "runswarm", "--skip-checks"]
        if settings:
            self.command = [
                PYTHON,
                str(Path(__file__).resolve()),
                "--runswarm",
                json.dumps(settings),
            ]
        self.stack = stack
        self.work = work
        self.env = env
        self.content = content
        self.names: dict[int, str] = {}
        self.origin = self.start(ORIGIN, ORIGIN_ADDRESS, Path(env["CONTENT_ROOT"]))
        wait_until(
            lambda: self.check(self.origin) and node_state(ORIGIN, content) == "seeding",
            START_TIMEOUT,
            "the origin node seeding the item",
        )

    def start(self, name: str, address: str, data: Path) -> subprocess.Popen[bytes]:
        from django.utils import timezone

        from swarm.models import EngineNode

        env = {
            **self.env,
            "SWARM_NODE_NAME": name,
            "SWARM_DATA_DIR": str(data),
            "SWARM_STATE_DIR": str(self.work / f"state-{name}"),
            "SWARM_LISTEN_INTERFACES": f"{address}:{free_port()}",
        }
        started = timezone.now()
        process = self.stack.enter_context(
            running(self.command, self.work / f"{name}.log", env=env,
                    own_session=True)
        )  # fmt: skip
        self.names[process.pid] = name
        wait_until(
            lambda: (
                self.check(process)
                and EngineNode.objects.filter(
                    name=name, last_heartbeat__gte=started, free_bytes__isnull=False
                ).exists()
            ),
            START_TIMEOUT,
            f"node {name}'s first heartbeat",
        )
        return process

    def check(self, process: subprocess.Popen[bytes]) -> bool:
        if process.poll() is not None:
            log = self.work / f"{self.names[process.pid]}.log"
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(
                f"node {self.names[process.pid]} exited ({process.returncode}):\n{tail}"
            )
        return True

    def replicate(self, label: str, *, compare: bool, profile: Path | None = None) -> Fetch:
        """A new node joins, is placed on the item, and fetches it until its row says seeding."""
        from django.conf import settings

        from swarm import placement
        from swarm.models import EngineNode

        name = f"new-{label}"
        data = self.work / f"data-{name}"
        process = self.start(name, NEW_ADDRESS, data)
        # Its first reconcile ran with its first heartbeat. A placement comes at any moment of
        # a node's reconcile period: half a period later is the mean wait, not the whole one a
        # pass right after the start would see.
        time.sleep(settings.SWARM_RECONCILE_SECONDS / 2)
        seeder_before = cpu_seconds(self.origin.pid)
        node_before = cpu_seconds(process.pid)
        spy = None if profile is None else replication_node.start_profile(process.pid, profile)
        began = time.perf_counter()
        placement.place_contents()
        placed = time.perf_counter()
        fetching = 0.0
        while (state := node_state(name, self.content)) != "seeding":
            now = time.perf_counter()
            if state == "fetching" and not fetching:
                fetching = now
            if now - began > ROUND_TIMEOUT:
                raise RuntimeError(f"node {name} never held the item (state {state})")
            self.check(process)
            time.sleep(0.02)
        ended = time.perf_counter()
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
            spy.wait(60)
        fetch = Fetch(
            seconds=ended - began,
            placing=placed - began,
            start=(fetching or ended) - placed,
            cpu=cpu_seconds(process.pid) - node_before,
            seeder_cpu=cpu_seconds(self.origin.pid) - seeder_before,
        )
        source = Path(self.env["CONTENT_ROOT"]) / str(self.content.pk) / FILE_NAME
        copy = data / str(self.content.pk) / FILE_NAME
        try:
            if compare and not filecmp.cmp(source, copy, shallow=False):
                raise RuntimeError(f"node {name}'s copy differs from the upload")
        finally:
            process.terminate()
            process.wait(60)
            # Gone for good: the next round's new node is the one placed.
            EngineNode.objects.filter(name=name).delete()
            shutil.rmtree(data, ignore_errors=True)
        return fetch

    def aria2c(self, torrent: Path, label: str, *, compare: bool) -> Fetch:
        """aria2c on the fan's peers-only torrent, from start to exit."""
        folder = self.work / f"aria2c-{label}"
        folder.mkdir()
        args = [
            aria2.ARIA2C, "--no-conf", f"--dir={folder}", "--file-allocation=none",
            "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
            "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
            "--async-dns=false", "--bt-max-peers=55", "--max-download-limit=0",
            "--max-overall-download-limit=0", f"--listen-port={free_port()}",
            "--summary-interval=0", "--console-log-level=warn", str(torrent),
        ]  # fmt: skip
        seeder_before = cpu_seconds(self.origin.pid)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(self.work / f"aria2c-{label}.log", "wb") as log:
            began = time.perf_counter()
            process = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
            try:
                returncode = process.wait(ROUND_TIMEOUT)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        ended = time.perf_counter()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        fetch = Fetch(
            seconds=ended - began,
            cpu=children.ru_utime
            - children_before.ru_utime
            + children.ru_stime
            - children_before.ru_stime,
            seeder_cpu=cpu_seconds(self.origin.pid) - seeder_before,
        )
        source = Path(self.env["CONTENT_ROOT"]) / str(self.content.pk) / FILE_NAME
        try:
            if returncode:
                raise RuntimeError(f"aria2c failed ({returncode}); see {folder}.log")
            if compare and not filecmp.cmp(source, folder / FILE_NAME, shallow=False):
                raise RuntimeError("aria2c's copy differs from the upload")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return fetch


def describe(side: str, fetch: Fetch, size: int) -> str:
    parts = f"{fetch.seconds:6.2f} s ({size / fetch.seconds / 1e6:5.0f} MB/s"
    if side == "ours":
        fetched = fetch.seconds - fetch.placing - fetch.start
        parts += f" = placement {fetch.placing:.2f} + start {fetch.start:.2f} + fetch {fetched:.2f}"
    return (
        f"{parts}); CPU s: {side} {fetch.cpu:.2f}, origin {fetch.seeder_cpu:.2f}; "
        f"load {os.getloadavg()[0]:.2f}"
    )


def measure(
    size: int, rounds: int, work: Path, extra: dict[str, Any]
) -> tuple[Paired, list[Fetch], list[Fetch]]:
    with ExitStack() as stack:
        env = stack.enter_context(scratch_django(work / "data"))
        from django.conf import settings

        from tests.fixtures.servers import serving

        server = stack.enter_context(serving())
        settings.SITE_URL = env["SITE_URL"] = server.url
        print(f"publishing a {size // 2**20} MiB item ...", file=sys.stderr, flush=True)
        content = publish_item(size, work)
        (work / "source.bin").unlink()
        torrent = work / "fan.torrent"
        fan_torrent(content, torrent)
        cluster = Cluster(stack, work, env, content, extra)
        print(f"origin seeding; load average {loads()}", file=sys.stderr, flush=True)
        warm = cluster.replicate("warmup", compare=True)
        print(f"  warm-up ours   {describe('ours', warm, size)}; identical", file=sys.stderr)
        warm = cluster.aria2c(torrent, "warmup", compare=True)
        print(f"  warm-up aria2c {describe('aria2c', warm, size)}; identical", file=sys.stderr)
        ours: list[Fetch] = []
        theirs: list[Fetch] = []
        paired = Paired()
        for number in range(1, rounds + 1):
            paired.loads.append(os.getloadavg()[0])
            # Alternated, so that a neighbour's load on the shared machine weighs on each alike.
            order = ("ours", "aria2c") if number % 2 else ("aria2c", "ours")
            for side in order:
                if side == "ours":
                    ours.append(cluster.replicate(str(number), compare=False))
                else:
                    theirs.append(cluster.aria2c(torrent, str(number), compare=False))
                done = ours[-1] if side == "ours" else theirs[-1]
                print(f"  round {number} {side:6} {describe(side, done, size)}", file=sys.stderr,
                      flush=True)  # fmt: skip
            paired.ours.append(ours[-1].seconds)
            paired.reference.append(theirs[-1].seconds)
        if paired.ratio > GOAL:
            # Where the new node's time goes: one more fetch, not counted, under py-spy.
            recording = work / "profile.txt"
            cluster.replicate("profiled", compare=False, profile=recording)
            print(f"py-spy profile of the new node fetching (own time, top functions, every "
                  f"thread): {replication_node.profile_summary(recording)}")  # fmt: skip
    return paired, ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3, help="timed fetches per side")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs)")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="NAME=VALUE",
        help="a libtorrent setting on top of the seedbox settings, for every node (repeatable)",
    )  # fmt: skip
    parser.add_argument("--runswarm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runswarm:
        replication_node.run_node(args.runswarm)
        return
    extra = parse_settings(args.setting)
    interrupt_on_signals()
    size = args.size_mib * 2**20
    print(f"load average before: {loads()}")
    work = Path(tempfile.mkdtemp(prefix="btt-bench-replication-", dir="/tmp"))
    try:
        paired, ours, theirs = measure(size, args.rounds, work, extra)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    from django.conf import settings

    print(
        f"{args.size_mib} MiB item (free, v1), {args.rounds} alternated rounds after one "
        f"warm-up each; libtorrent {lt.__version__}, aria2c {aria2.version()}; "
        f"SWARM_RECONCILE_SECONDS {settings.SWARM_RECONCILE_SECONDS}; {os.cpu_count()} CPUs; "
        f"load average after: {loads()}"
    )
    if extra:
        print(f"nodes: the seedbox settings plus {json.dumps(extra)}")
    for side, fetches in (("ours", ours), ("aria2c", theirs)):
        seconds = statistics.median(f.seconds for f in fetches)
        print(
            f"  {side:6} median {seconds:.2f} s ({size / seconds / 1e6:.0f} MB/s), rounds "
            f"{' '.join(f'{f.seconds:.2f}' for f in fetches)} s; CPU s (median): {side} "
            f"{statistics.median(f.cpu for f in fetches):.2f}, origin "
            f"{statistics.median(f.seeder_cpu for f in fetches):.2f}"
        )
    fetch_only = statistics.median(f.seconds - f.placing - f.start for f in ours)
    print(
        f"  ours split (medians): placement {statistics.median(f.placing for f in ours):.2f} s, "
        f"start {statistics.median(f.start for f in ours):.2f} s, fetch until the row says "
        f"seeding {fetch_only:.2f} s"
    )
    print(
        f"ratio ours/aria2c: {paired.ratio:.2f}x (goal <= {GOAL}); per round "
        f"{' '.join(f'{r:.2f}' for r in paired.ratios)}; load before each round "
        f"{' '.join(f'{x:.2f}' for x in paired.loads)}"
    )


def section(argv: Sequence[str] = ()) -> str:
    """Runs the bench (its defaults unless ``argv``); the section quotes what it prints."""
    return section_from_output("Replication", COMMAND, __doc__ or "", main, argv)


if __name__ == "__main__":
    if "--runswarm" in sys.argv:  # a node of the bench, not the bench
        main()
        sys.exit()
    try:
        print(section(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit("interrupted; everything started was stopped")
