"""Reconcile CPU: what an engine node's reconcile tick costs with 10,000 published contents on
3 nodes, read by the published feed (incremental) against a full reload of the metainfo, in one
run.

    .venv/bin/python bench/reconcile.py [--contents 10000] [--nodes 3] [--target 2]
                                        [--rounds 5] [--changed 10] [--postgres URL]

Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated; with ``--postgres``
a scratch database on that server instead, dropped at the end) holding ``--contents``
published contents of one creator, each with its file row and a v1 metainfo of the size
ingest gives it (random piece hashes; sizes 50 MiB, 300 MiB, 1 GiB and 4 GiB in turn, so 4-41 KB
of metainfo each), ``--nodes`` engine nodes with a fresh heartbeat, each content placed on
``--target`` of them (in turn) with a seeding row on each. Every content last changed an hour
ago. Each node's ``swarm.published_feed.PublishedFeed`` is primed with its first read (the
sweep a node does at start).

Then ``--rounds`` rounds; in each, for every node, three ticks, the order reversed every other
round:

  quiet     ``PublishedFeed.wanted()`` with nothing changed since its cursor: what runswarm
            calls on almost every tick
  changed   the same after ``--changed`` contents (random, of all nodes) had their
            ``changed_at`` moved, as a takedown, a hash or a placement move does
  full      ``published_feed.read_published(node)``: every content the node seeds read again,
            metainfo and files, as each tick did before the feed (before placement every node
            read every published content, which is more still)

CPU is ``time.process_time()`` of this process around the call (SQLite runs inside it; with
``--postgres`` the CPU of the connection's server process is added, read from /proc), wall
time beside it. Printed per kind: median CPU ms per tick and metainfo rows read, and the median
of the per-round ratios full / quiet and full / changed. The feed's periodic sweep (every
``SWEEP_SECONDS``, one column per content and metainfo only for what differs) is timed once per
node and shown amortised over the ticks between two sweeps. The engine's own side of a tick
(``Seeder.reconcile``: one pass over the wanted list, a stat of each content's files) is the
same for both ways and not in these figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import (  # noqa: E402
    Paired,
    cpu_seconds,
    interrupt_on_signals,
    loads,
    scratch_postgres,
    section_from_output,
)

if TYPE_CHECKING:
    from swarm.models import EngineNode

COMMAND = ".venv/bin/python bench/reconcile.py"
SIZES_MIB = (50, 300, 1024, 4096)
BATCH = 1000
KINDS = ("quiet", "changed", "full")


@dataclass
class Tick:
    cpu: float  # seconds, this process (and the database server's process, on PostgreSQL)
    wall: float
    loaded: int  # metainfo rows read


@dataclass
class Results:
    ticks: dict[str, list[Tick]] = field(default_factory=lambda: {k: [] for k in KINDS})
    sweeps: list[Tick] = field(default_factory=list)
    quiet_vs_full: Paired = field(default_factory=Paired)
    changed_vs_full: Paired = field(default_factory=Paired)


@contextmanager
def scratch_django(data_dir: Path, database_url: str | None) -> Iterator[None]:
    """Django with production settings on a scratch data folder (its own SQLite file, or
    ``database_url``, and its own embedded Redis), migrated."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.update(
        DJANGO_SETTINGS_MODULE="btt_platform.settings",
        # Production settings: no query log (DEBUG keeps every query's SQL), as a node runs.
        DEBUG="false",
        SECRET_KEY="bench-" + os.urandom(24).hex(),
        SITE_URL="https://127.0.0.1:9",
        ALLOWED_HOSTS="127.0.0.1",
        BTT_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        CLOCK_OFFSET_FILE=str(data_dir / "clock-offset"),
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from btt_platform import embedded

    try:
        call_command("migrate", verbosity=0)
        yield
    finally:
        connections.close_all()
        with suppress(Exception):
            embedded.stop(data_dir)


def fake_metainfo(number: int, size: int) -> tuple[bytes, str, int]:
    """A v1 metainfo of one ``size``-byte file with ingest's piece length and random piece
    hashes: what the database holds for such a content. Returns it, its infohash, the piece
    length."""
    import libtorrent as lt

    from swarm.torrents import piece_length_for

    piece_length = piece_length_for(size)
    pieces = -(-size // piece_length)
    info: dict[bytes, Any] = {
        b"name": f"item-{number}.bin".encode(),
        b"length": size,
        b"piece length": piece_length,
        b"pieces": os.urandom(20 * pieces),
    }
    torrent: dict[bytes, Any] = {b"announce": b"http://127.0.0.1:9/announce", b"info": info}
    metainfo: bytes = lt.bencode(torrent)
    return metainfo, hashlib.sha1(lt.bencode(info), usedforsecurity=False).hexdigest(), piece_length


def populate(contents: int, node_count: int, target: int) -> tuple[list[EngineNode], int]:
    """The catalogue, nodes, placements and seeding rows; returns the nodes and the metainfo
    bytes stored."""
    from django.utils import timezone

    from creators.models import Creator
    from swarm.models import Content, ContentFile, EngineNode, NodeSeeding, Placement
    from tests.fixtures.personas import TRON_ADDRESS, make_user

    now = timezone.now()
    an_hour_ago = now - timedelta(hours=1)
    creator = Creator.objects.create(
        user=make_user("maker"), handle="maker", display_name="Maker", payout_address=TRON_ADDRESS
    )
    nodes = [
        EngineNode.objects.create(
            name=f"node-{n}", last_heartbeat=now, started_at=now, free_bytes=2**50
        )
        for n in range(node_count)
    ]
    stored = 0
    for start in range(0, contents, BATCH):
        batch = []
        for number in range(start, min(contents, start + BATCH)):
            size = SIZES_MIB[number % len(SIZES_MIB)] * 2**20
            metainfo, infohash, piece_length = fake_metainfo(number, size)
            stored += len(metainfo)
            batch.append(
                Content(
                    creator=creator, title=f"Item {number}", name=f"item-{number}.bin",
                    access=Content.Access.FREE, state=Content.State.SEEDING, total_size=size,
                    piece_length=piece_length, infohash=infohash, metainfo=metainfo,
                    published_at=an_hour_ago, changed_at=an_hour_ago,
                )
            )  # fmt: skip
        made = Content.objects.bulk_create(batch)
        ContentFile.objects.bulk_create(
            ContentFile(content=c, path=c.name, original_name=c.name, size=c.total_size)
            for c in made
        )
        placements, rows = [], []
        for content in made:
            assert content.pk is not None
            for k in range(target):
                node = nodes[(content.pk + k) % node_count]
                placements.append(Placement(node=node, content=content, assigned_at=an_hour_ago))
                rows.append(NodeSeeding(node=node, content=content, updated_at=an_hour_ago))
        Placement.objects.bulk_create(placements)
        NodeSeeding.objects.bulk_create(rows)
    return nodes, stored


def server_cpu() -> Callable[[], float]:
    """CPU seconds of the database's side of this connection so far: its server process on
    PostgreSQL (0 on SQLite, which runs inside this process and is in process_time)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return lambda: 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    return lambda: cpu_seconds(pid)


def timed(work: Callable[[], int], server: Callable[[], float]) -> Tick:
    """One call of ``work`` (which returns the metainfo rows it read), its CPU and wall time."""
    server_before, cpu_before, wall_before = server(), time.process_time(), time.perf_counter()
    loaded = work()
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before + server() - server_before
    return Tick(cpu, wall, loaded)


def touch(contents: int) -> None:
    """``contents`` random contents changed now (outside any timed tick)."""
    from django.utils import timezone

    from swarm.models import Content

    ids = list(Content.objects.values_list("pk", flat=True))
    chosen = random.sample(ids, min(contents, len(ids)))
    Content.objects.filter(pk__in=chosen).update(changed_at=timezone.now())


def measure(args: argparse.Namespace) -> tuple[Results, int]:
    from django.db import connection

    from swarm import published_feed
    from swarm.published_feed import PublishedFeed

    results = Results()
    began = time.monotonic()
    nodes, stored = populate(args.contents, args.nodes, args.target)
    print(
        f"{args.contents} contents ({stored / 1e6:.0f} MB of metainfo, "
        f"{stored / args.contents / 1000:.1f} KB each on average) on {args.nodes} nodes, target "
        f"{args.target}; {connection.vendor}; set up in {time.monotonic() - began:.0f} s",
        flush=True,
    )
    server = server_cpu()
    # Sweeps only when asked: the ticks timed here are the ones between two sweeps.
    feeds = [PublishedFeed(node, sweep_seconds=float("inf")) for node in nodes]

    def sweep(feed: PublishedFeed) -> Callable[[], int]:
        def run() -> int:
            feed.wanted(sweep=True)
            return feed.loaded

        return run

    for feed in feeds:
        results.sweeps.append(timed(sweep(feed), server))
    for feed in feeds:  # a sweep again, with every copy held: what the periodic one costs
        results.sweeps.append(timed(sweep(feed), server))

    for number in range(args.rounds):
        touch(args.changed)  # (not timed) each node's next incremental tick reads them
        for node, feed in zip(nodes, feeds, strict=True):

            def incremental() -> int:
                feed.wanted()  # noqa: B023 (called in this iteration only)
                return feed.loaded  # noqa: B023

            def full() -> int:
                read = published_feed.read_published(node)  # noqa: B023
                wanted = [read[content_id][0] for content_id in sorted(read)]
                return len(wanted)

            # The quiet tick follows the changed one (which read the changes); full goes first
            # every other round.
            plan = ["changed", "quiet", "full"] if number % 2 == 0 else ["full", "changed", "quiet"]
            load = os.getloadavg()[0]
            round_ticks: dict[str, Tick] = {}
            for kind in plan:
                round_ticks[kind] = timed(full if kind == "full" else incremental, server)
                results.ticks[kind].append(round_ticks[kind])
            full_cpu = round_ticks["full"].cpu
            results.quiet_vs_full.ours.append(full_cpu)
            results.quiet_vs_full.reference.append(round_ticks["quiet"].cpu)
            results.quiet_vs_full.loads.append(load)
            results.changed_vs_full.ours.append(full_cpu)
            results.changed_vs_full.reference.append(round_ticks["changed"].cpu)
            print(
                f"  round {number + 1} {node.name}: "
                + "  ".join(
                    f"{kind} {round_ticks[kind].cpu * 1000:.1f} ms CPU "
                    f"({round_ticks[kind].loaded} read)"
                    for kind in KINDS
                )
                + f"  load {load:.2f}",
                file=sys.stderr,
                flush=True,
            )
    return results, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contents", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--target", type=int, default=2, help="nodes per content")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--changed", type=int, default=10, help="contents changed per tick")
    parser.add_argument("--postgres", help="a PostgreSQL server URL to make a scratch DB on")
    parser.add_argument("--db-prefix", default="bench_reconcile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    interrupt_on_signals()
    print(f"load average before: {loads()}")
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-reconcile-", dir="/tmp"))
    try:
        with (
            scratch_postgres(args.postgres, args.db_prefix) as database_url,
            scratch_django(data_dir, database_url),
        ):
            results, _ = measure(args)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    from django.conf import settings

    from swarm.published_feed import SWEEP_SECONDS

    ticks_per_sweep = SWEEP_SECONDS / settings.SWARM_RECONCILE_SECONDS
    half = len(results.sweeps) // 2
    first, periodic = results.sweeps[:half], results.sweeps[half:]
    print()
    print(
        f"{args.rounds} rounds x {args.nodes} nodes; CPU ms per tick (median), wall ms, "
        f"metainfo rows read:"
    )
    for kind in KINDS:
        ticks = results.ticks[kind]
        print(
            f"  {kind:8} CPU {statistics.median(t.cpu for t in ticks) * 1000:9.1f} ms  "
            f"wall {statistics.median(t.wall for t in ticks) * 1000:9.1f} ms  "
            f"read {statistics.median(t.loaded for t in ticks):.0f}"
        )
    periodic_cpu = statistics.median(t.cpu for t in periodic)
    print(
        f"  sweep at start {statistics.median(t.cpu for t in first) * 1000:.0f} ms CPU "
        f"({statistics.median(t.loaded for t in first):.0f} read); periodic sweep "
        f"{periodic_cpu * 1000:.0f} ms CPU ({statistics.median(t.loaded for t in periodic):.0f} "
        f"read) every {SWEEP_SECONDS:.0f} s = {ticks_per_sweep:.0f} ticks: "
        f"{periodic_cpu / ticks_per_sweep * 1000:.2f} ms a tick amortised"
    )
    for label, paired in (("quiet", results.quiet_vs_full), ("changed", results.changed_vs_full)):
        print(
            f"  full / {label}: {paired.ratio:.0f}x CPU (median of per-round ratios "
            f"{' '.join(f'{r:.0f}' for r in sorted(paired.ratios))})"
        )
    print(f"load average after: {loads()}")


def section(argv: Sequence[str] = ()) -> str:
    """Runs the bench (its defaults unless ``argv``); the section quotes what it prints."""
    return section_from_output("Reconcile CPU", COMMAND, __doc__ or "", main, argv)


if __name__ == "__main__":
    try:
        print(section(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit("interrupted; everything started was stopped")
