"""Tracker announces per second next to opentracker at scale, in one run, idle and busy.

    .venv/bin/python bench/tracker.py [--seconds 10] [--rounds 3] [--connections 32]
                                      [--torrents 10000] [--peers 50000]

Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated) with rows made in
bulk: ``--torrents`` seeding contents (every other one paid), ``--peers / 5`` users with a
passkey each, each announcing 5 torrents, and a grant for each of their paid ones. Then drives,
on 127.0.0.1 with one wrk script:

  ours         the web process (uvicorn, one worker, the real ASGI app) at /announce/<passkey>
  opentracker  Debian's opentracker (one process, TCP on loopback only, whitelist mode)

Every pair announces once (the swarms then hold all the peers); then timed rounds of random
pairs, alternating between the two, idle and beside ``stress-ng --cpu 2``. ``section()`` returns
the markdown of bench/RESULTS.md's section; run as a script, it prints it. A py-spy profile
of ours is taken in each condition and summarised. Bounded: a few minutes of setup and
warm-up, then 2 x (2 x rounds + 1) x seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libtorrent as lt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BASE_DIR,
    PYTHON,
    busy,
    free_port,
    goal_line,
    loads,
    machine,
    production_environment,
    running,
    stop_scratch_redis,
    table,
)
from bench.common import section as common_section
from bench.tracker_load import (
    PER_USER,
    Run,
    Tracker,
    percent,
    profile_ours,
    stride,
    timed,
    verify,
    warm,
    write_scripts,
)

OPENTRACKER = shutil.which("opentracker") or "/usr/bin/opentracker"


def infohashes(count: int) -> list[bytes]:
    return [
        hashlib.sha1(f"bench-torrent-{i}".encode(), usedforsecurity=False).digest()
        for i in range(count)
    ]


def scratch_environment(data_dir: Path) -> dict[str, str]:
    """Production-like settings on the embedded defaults, in the scratch folder."""
    return production_environment(data_dir)


# Read by ``manage.py shell`` from stdin: a command line would not hold 10,000 infohashes.
SETUP_ROWS = """
import hashlib
from datetime import timedelta
from accounts.models import User
from btt_platform import clock
from creators.models import Creator
from ledger.models import Grant
from swarm.models import Content, Passkey

TORRENTS, USERS, PER_USER, STRIDE = %(torrents)d, %(users)d, %(per_user)d, %(stride)d
owner = User.objects.create_user(username="bench", email="bench@example.com", password=None)
creator = Creator.objects.create(user=owner, handle="bench", display_name="Bench",
                                 payout_address="TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4")
# Every other torrent is paid: its announces go through the entitlement check.
Content.objects.bulk_create(
    [Content(creator=creator, title=f"Bench {i}", name=f"bench-{i}.bin",
             access=Content.Access.PAID if i %% 2 else Content.Access.FREE,
             state=Content.State.SEEDING, total_size=1048576,
             infohash=hashlib.sha1(f"bench-torrent-{i}".encode()).hexdigest())
     for i in range(TORRENTS)], batch_size=2000)
contents = list(Content.objects.filter(creator=creator).order_by("pk").values_list("pk", "access"))
User.objects.bulk_create(
    [User(username=f"fan{u}", email=f"fan{u}@example.com", password="!") for u in range(USERS)],
    batch_size=2000)
users = list(User.objects.filter(username__startswith="fan").order_by("pk")
             .values_list("pk", flat=True))
Passkey.objects.bulk_create([Passkey(user_id=user) for user in users], batch_size=2000)
keys = dict(Passkey.objects.filter(user_id__in=users).values_list("user_id", "key"))
now = clock.now()
grants = []
for u, user in enumerate(users):
    for k in range(PER_USER):
        pk, kind = contents[(u + k * STRIDE) %% TORRENTS]
        if kind == Content.Access.PAID:
            # Half open-ended (a purchase), half ending in a month (a membership period).
            until = None if (u + k) %% 2 else now + timedelta(days=30)
            grants.append(Grant(user_id=user, content_id=pk, source=Grant.Source.STAFF,
                                source_ref=f"bench-{u}-{k}", starts_at=now, until=until))
Grant.objects.bulk_create(grants, batch_size=2000)
print("PASSKEYS " + " ".join(keys[user] for user in users))
print(f"GRANTS {len(grants)}")
"""


def prepare(data_dir: Path, torrents: int, users: int) -> tuple[list[str], int]:
    """Migrates the scratch database and adds the rows (bulk): returns the passkeys in pair
    order and the number of grants."""
    env = scratch_environment(data_dir)
    migrate = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if migrate.returncode:
        raise RuntimeError(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
    code = SETUP_ROWS % {
        "torrents": torrents,
        "users": users,
        "per_user": PER_USER,
        "stride": stride(torrents),
    }
    out = subprocess.run(
        [PYTHON, "manage.py", "shell"],
        input=code,
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    ).stdout
    passkeys = re.search(r"^PASSKEYS (.*)$", out, re.MULTILINE)
    grants = re.search(r"^GRANTS (\d+)$", out, re.MULTILINE)
    if passkeys is None or grants is None:
        raise RuntimeError(f"setup printed no passkeys:\n{out}")
    return passkeys.group(1).split(), int(grants.group(1))


def announce_once(url: str, info_hash: bytes, timeout: float = 60.0) -> dict[Any, Any]:
    """One announce, retried until the server answers; returns the decoded reply."""
    query = (
        f"?info_hash={percent(info_hash)}&peer_id=-BN0001-check0000000&port=6881"
        "&uploaded=0&downloaded=0&left=0&compact=1"
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + query, timeout=5) as reply:  # noqa: S310 - loopback
                decoded = lt.bdecode(reply.read())
                if not isinstance(decoded, dict):
                    raise RuntimeError(f"{url} answered {decoded!r}")
                return decoded
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.2)


@contextmanager
def our_tracker(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    args = [PYTHON, "-m", "uvicorn", "btt_site.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--proxy-headers", "--no-server-header", "--lifespan", "off",
            "--no-access-log", "--log-level", "warning"]  # fmt: skip
    with running(args, data_dir / "uvicorn.log", env=scratch_environment(data_dir)) as child:
        yield child


@contextmanager
def opentracker(
    data_dir: Path, port: int, hashes: list[bytes]
) -> Iterator[subprocess.Popen[bytes]]:
    # opentracker chroots into -d and drops to "nobody", so its folder must be world-readable;
    # the whitelist path is then relative to that root.
    root = data_dir / "opentracker"
    root.mkdir()
    root.chmod(0o755)
    whitelist = root / "whitelist"
    whitelist.write_text("".join(h.hex() + "\n" for h in hashes))
    whitelist.chmod(0o644)
    udp = free_port(socket.SOCK_DGRAM)
    args = [OPENTRACKER, "-i", "127.0.0.1", "-p", str(port), "-P", str(udp),
            "-w", "/whitelist", "-d", str(root)]  # fmt: skip
    with running(args, data_dir / "opentracker.log", env=dict(os.environ)) as child:
        yield child


def redis_pids(data_dir: Path) -> list[int]:
    """The embedded redis-server of the scratch folder (its socket is named in its command)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if proc.name.isdigit() and b"redis-server" in command and str(data_dir).encode() in command:
            found.append(int(proc.name))
    return found


@dataclass
class Condition:
    """One machine state (idle, or under stress-ng) and its alternated rounds."""

    name: str
    load_before: str
    load_after: str = ""
    ours: list[Run] = field(default_factory=list)
    reference: list[Run] = field(default_factory=list)
    profile: str = ""

    @property
    def ratios(self) -> list[float]:
        return [a.per_second / b.per_second for a, b in zip(self.ours, self.reference, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def rounds(
    condition: Condition, trackers: list[Tracker], scripts: dict[str, dict[str, Path]],
    count: int, seconds: int, connections: int,
) -> None:  # fmt: skip
    """``count`` rounds, each timing both; the order swaps every round."""
    ours, reference = trackers
    for number in range(count):
        order = [ours, reference] if number % 2 == 0 else [reference, ours]
        for tracker in order:
            run = timed(tracker, scripts[tracker.name]["timed"], seconds, connections)
            (condition.ours if tracker is ours else condition.reference).append(run)
            print(f"{condition.name} round {number + 1} {tracker.name}: {run.per_second:.0f}/s",
                  flush=True)  # fmt: skip


GOAL = 0.1
COMMAND = ".venv/bin/python bench/tracker.py"


def run(args: argparse.Namespace) -> tuple[list[Condition], list[Tracker], int]:
    # Short: the embedded Redis socket lives inside it (sun_path is 108 bytes).
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-trk-", dir="/tmp"))
    hashes = infohashes(args.torrents)
    users = args.peers // PER_USER
    conditions: list[Condition] = []
    try:
        print(f"setting up {data_dir} ({args.torrents} torrents, {users} users) ...", flush=True)
        passkeys, grants = prepare(data_dir, args.torrents, users)
        our_port, reference_port = free_port(), free_port()
        trackers = [
            Tracker("ours", f"http://127.0.0.1:{our_port}", passkeys=True),
            Tracker("opentracker", f"http://127.0.0.1:{reference_port}", passkeys=False),
        ]
        scripts = {t.name: write_scripts(t, hashes, passkeys, data_dir) for t in trackers}
        with (
            our_tracker(data_dir, our_port) as server,
            opentracker(data_dir, reference_port, hashes) as reference_process,
        ):
            ours, reference = trackers
            ours.pids = [server.pid, *redis_pids(data_dir)]
            reference.pids = [reference_process.pid]
            reply = announce_once(f"{ours.base}/announce/{passkeys[0]}", hashes[0])
            if b"failure reason" in reply:
                raise RuntimeError(f"ours refuses the benchmark's announce: {reply!r}")
            announce_once(f"{reference.base}/announce", hashes[0])
            for tracker in trackers:
                print(f"warming {tracker.name} ...", flush=True)
                warm(tracker, scripts[tracker.name]["warm"], len(passkeys) * PER_USER,
                     args.connections)  # fmt: skip
                verify(tracker, scripts[tracker.name]["verify"], args.connections)
            for name, cpus in (("idle", 0), ("busy", 2)):
                with busy(cpus):
                    condition = Condition(name, loads())
                    rounds(condition, trackers, scripts, args.rounds, args.seconds,
                           args.connections)  # fmt: skip
                    # Met or not: where the time goes is what a reader checks first.
                    condition.profile = profile_ours(
                        server.pid, scripts["ours"]["timed"], ours, args.seconds,
                        args.connections,
                    )  # fmt: skip
                    condition.load_after = loads()
                conditions.append(condition)
    finally:
        stop_scratch_redis(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    return conditions, trackers, grants


def missed_why(condition: Condition) -> str:
    mine = statistics.median(r.cpu_ms for r in condition.ours)
    theirs = statistics.median(r.cpu_ms for r in condition.reference)
    return (
        f"CPU per announce: ours {mine:.2f} ms, opentracker {theirs:.3f} ms "
        f"({mine / theirs:.0f}x). No database work is left on the path (the profile shows "
        "none but the transfer flush every 2 s); the time is the HTTP server and the event "
        "loop (a connection per announce) and the one Redis round trip per announce "
        "(swarm/tracker/hotpath.py)."
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each timed run")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each, alternated")
    parser.add_argument("--connections", type=int, default=32, help="concurrent wrk connections")
    parser.add_argument("--torrents", type=int, default=10_000, help="torrents (half paid)")
    parser.add_argument("--peers", type=int, default=50_000, help="peers (pairs user/torrent)")
    return parser


def section(argv: list[str] | None = None) -> str:
    """Run the bench and return its section of bench/RESULTS.md."""
    args = parser().parse_args(argv or [])
    before = loads()
    conditions, trackers, grants = run(args)
    header = ["machine", "load before / after", "ours announces/s (median)",
              "opentracker announces/s (median)", "ratio per round", "ratio (median)",
              "ours p50 / p99 ms", "CPU ms per announce, ours / opentracker"]  # fmt: skip
    rows = []
    for c in conditions:
        mine = statistics.median(r.per_second for r in c.ours)
        theirs = statistics.median(r.per_second for r in c.reference)
        middle = sorted(c.ours, key=lambda r: r.per_second)[len(c.ours) // 2]
        rows.append([
            c.name if c.name == "idle" else "busy (stress-ng --cpu 2)",
            f"{c.load_before} / {c.load_after}", f"{mine:.0f}", f"{theirs:.0f}",
            " ".join(f"{r:.3f}" for r in c.ratios), f"{c.ratio:.3f}",
            f"{middle.p50_ms:.1f} / {middle.p99_ms:.1f}",
            f"{statistics.median(r.cpu_ms for r in c.ours):.3f} / "
            f"{statistics.median(r.cpu_ms for r in c.reference):.3f}",
        ])  # fmt: skip
    method = f"""
Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated) with rows made in
bulk: {args.torrents} seeding contents (every other one paid), {args.peers // PER_USER} users
with a passkey each, and {grants} grants (one per user and paid torrent it announces; half
open-ended, half ending in 30 days). Each user announces {PER_USER} torrents and each torrent
has {PER_USER} users: {args.peers} peers, each a distinct passkey/torrent pair.

- **ours**: the web process as deployed (uvicorn, one worker, httptools and uvloop, the real
  ASGI app `btt_site.asgi:application`, `DEBUG=false`) at `/announce/<passkey>`;
- **opentracker**: Debian's opentracker, one process, whitelist mode with the same infohashes
  (the reference; it has no passkeys or entitlements).

Every pair announces once first, in order (the swarms then hold all {args.peers} peers and our
tracker has read each passkey, content and decision from the database once, as each pair's
first announce does in production); a 3 s pass of random pairs checks every answer is a 200
with a peer list. Then timed rounds of {args.seconds} s, wrk (1 thread, {args.connections}
connections, `Connection: close`) announcing random pairs as libtorrent does (`compact=1`,
`numwant=50`), the two trackers alternating and the order swapped each round; the figure is
the median of the per-round ratios, idle and then beside `stress-ng --cpu 2`. No announce hits
a per-process cache (there is none on this path): each is answered in one Redis round trip, a
script (`swarm/tracker/hotpath.py`) that reads the passkey's, the content's and the decision's
entries, checks the decision against the platform clock, records the peer and, for a paid
torrent, admits its address for the engine. "idle" means no load generator of the bench's own:
the machine is shared, and the load column shows what the neighbours ran meanwhile.

Machine: {machine()}.
"""
    notes = [
        f"Load average before the bench: {before}; after: {loads()}.",
        "CPU ms per announce: user + system time of the tracker's processes (ours: uvicorn and "
        "its redis-server; opentracker: its one process) over a timed round, per announce "
        "answered (median of the rounds). Unlike announces/s it hardly moves with the "
        "neighbours' load, and its ratio bounds what ours can reach on a machine of its own.",
        "Verified answers (200 with a peer list): "
        + ", ".join(f"{t.name} {t.checked}" for t in trackers)
        + "; no non-2xx answers in the timed rounds: "
        + ", ".join(
            f"{c.name} {sum(r.non2xx for r in c.ours)}/{sum(r.non2xx for r in c.reference)}"
            for c in conditions
        )
        + " (ours/opentracker). wrk counts a socket error for every opentracker answer (it "
        "resets the connection after answering).",
    ]
    for c in conditions:
        if c.profile:
            notes.append(f"py-spy profile of ours, {c.name} (own time, top functions): "
                         f"{c.profile}.")  # fmt: skip
    goals = [
        goal_line(
            f"{c.name}: ours/opentracker at {args.torrents} torrents, {args.peers} peers",
            c.ratio,
            GOAL,
            at_most=False,
            why=missed_why(c),
        )
        for c in conditions
    ]
    return common_section("Tracker", COMMAND, method, table(header, rows), notes, goals)


if __name__ == "__main__":
    print(section(sys.argv[1:]))
