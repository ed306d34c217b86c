"""Tracker announces per second next to opentracker, in one run, with the same load.

    .venv/bin/python bench/tracker.py [--seconds 10] [--rounds 3] [--connections 32]
                                      [--torrents 100]

Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated), a user with a
passkey and ``--torrents`` free seeding contents, and the same infohashes in an opentracker
whitelist. Then drives both on 127.0.0.1 with one wrk script:

  ours         the web process (uvicorn, one worker, the real ASGI app) at /announce/<passkey>
  opentracker  Debian's opentracker (one process, TCP on loopback only, whitelist mode)

Each request is an announce as libtorrent sends it (compact=1, numwant=50) for a random torrent
from the pool by a random peer from a pool of 20,000 (a quarter of them seeders), with growing
counters, and ``Connection: close``: BitTorrent clients open one connection per announce, and
opentracker closes every connection after its answer anyway. A short verification pass counts
answers that are not a peer list (a failing tracker must not look fast) and warms both up; then
the timed runs, alternating between the two so that a neighbour's load on a shared machine hits
both alike. Prints announces/s (median of the rounds) and latency for each, and the ratio
ours/opentracker. Bounded: about 2 x rounds x seconds plus a minute of setup.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
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
from string import Template
from typing import Any

import libtorrent as lt

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
OPENTRACKER = shutil.which("opentracker") or "/usr/bin/opentracker"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
PEERS = 20_000

WRK_SCRIPT = Template("""
local hashes = {$hashes}
local path = "$path"
local counter = 0
failures = 0
checked = 0
threads = {}

function setup(thread)
    counter = counter + 1
    thread:set("seed", counter * 7919)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(seed)
end

function request()
    local peer = math.random(1, $peers)
    local left = (peer % 4 == 0) and 0 or 1048576
    local query = "?info_hash=" .. hashes[math.random(1, #hashes)]
        .. "&peer_id=-BN0001-" .. string.format("%012d", peer)
        .. "&port=" .. (10000 + peer % 50000)
        .. "&uploaded=" .. math.random(0, 1000000000)
        .. "&downloaded=" .. math.random(0, 1000000000)
        .. "&left=" .. left
        .. "&corrupt=0&key=" .. string.format("%08X", peer)
        .. "&numwant=50&compact=1&no_peer_id=1&supportcrypto=1&redundant=0"
    return wrk.format("GET", path .. query, {["Connection"] = "close"})
end

$response
function done(summary, latency, requests)
    local bad, seen = 0, 0
    for _, thread in ipairs(threads) do
        bad = bad + thread:get("failures")
        seen = seen + thread:get("checked")
    end
    io.write(string.format(
        "RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p99_us=%d "
        .. "checked=%d failures=%d\\n",
        summary.requests, summary.duration, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.timeout,
        latency:percentile(50), latency:percentile(99), seen, bad))
end
""")


# Only in the verification pass: a response() callback makes wrk parse every body.
VERIFY_RESPONSE = """
function response(status, headers, body)
    checked = checked + 1
    if status ~= 200 or not string.find(body, "5:peers", 1, true) then
        failures = failures + 1
    end
end
"""


@dataclass
class Run:
    per_second: float
    requests: int
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int


@dataclass
class Tracker:
    name: str
    base: str
    path: str
    checked: int = 0
    runs: list[Run] = field(default_factory=list)

    def median(self) -> Run:
        return sorted(self.runs, key=lambda run: run.per_second)[len(self.runs) // 2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def infohashes(count: int) -> list[bytes]:
    return [
        hashlib.sha1(f"bench-torrent-{i}".encode(), usedforsecurity=False).digest()
        for i in range(count)
    ]


def percent(value: bytes) -> str:
    return "".join(f"%{b:02X}" for b in value)


def scratch_environment(data_dir: Path) -> dict[str, str]:
    """Production-like settings on the embedded defaults, in the scratch folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        # Production refuses a plain-http SITE_URL; the tracker never uses it, and wrk speaks
        # plain http to the loopback port (no TLS for either tracker).
        SITE_URL="https://127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        BTT_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


SETUP_ROWS = """
from accounts.models import User
from creators.models import Creator
from swarm.models import Content
from swarm.services import active_passkey
user = User.objects.create_user(username="bench", email="bench@example.com", password=None)
creator = Creator.objects.create(user=user, handle="bench", display_name="Bench",
                                 payout_address="TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4")
Content.objects.bulk_create(
    Content(creator=creator, title=f"Bench {i}", name=f"bench-{i}.bin",
            access=Content.Access.FREE, state=Content.State.SEEDING, total_size=1048576,
            infohash=infohash)
    for i, infohash in enumerate(%(hashes)r)
)
print(active_passkey(user).key)
"""


def prepare(data_dir: Path, hashes: list[bytes]) -> str:
    """Migrates the scratch database and adds the user and contents; returns the passkey."""
    env = scratch_environment(data_dir)
    migrate = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if migrate.returncode:
        raise RuntimeError(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
    code = SETUP_ROWS % {"hashes": [h.hex() for h in hashes]}
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return out.strip().splitlines()[-1]


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with open(log, "wb") as out:
        process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=out)
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
def our_tracker(data_dir: Path, port: int) -> Iterator[None]:
    args = [PYTHON, "-m", "uvicorn", "btt_platform.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--lifespan", "off", "--no-access-log",
            "--log-level", "warning"]  # fmt: skip
    with running(args, scratch_environment(data_dir), data_dir / "uvicorn.log"):
        yield


@contextmanager
def opentracker(data_dir: Path, port: int, hashes: list[bytes]) -> Iterator[None]:
    # opentracker chroots into -d and drops to "nobody", so its folder must be world-readable;
    # the whitelist path is then relative to that root.
    root = data_dir / "opentracker"
    root.mkdir()
    root.chmod(0o755)
    whitelist = root / "whitelist"
    whitelist.write_text("".join(h.hex() + "\n" for h in hashes))
    whitelist.chmod(0o644)
    args = [OPENTRACKER, "-i", "127.0.0.1", "-p", str(port), "-P", str(free_udp_port()),
            "-w", "/whitelist", "-d", str(root)]  # fmt: skip
    with running(args, dict(os.environ), data_dir / "opentracker.log"):
        yield


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wrk(script: Path, url: str, seconds: int, connections: int) -> dict[str, int]:
    args = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(script), url]  # fmt: skip
    out = subprocess.run(
        args, check=True, capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    match = re.search(r"^RESULT (.*)$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def write_scripts(tracker: Tracker, hashes: list[bytes], work: Path) -> dict[str, Path]:
    scripts = {}
    for kind, response in (("verify", VERIFY_RESPONSE), ("timed", "")):
        scripts[kind] = work / f"{tracker.name}-{kind}.lua"
        scripts[kind].write_text(
            WRK_SCRIPT.substitute(
                hashes=", ".join(f'"{percent(h)}"' for h in hashes),
                path=tracker.path,
                peers=PEERS,
                response=response,
            )
        )
    return scripts


def verify(tracker: Tracker, script: Path, hashes: list[bytes], connections: int) -> None:
    """Refuse to time a tracker that fails announces; this pass also warms it up."""
    reply = announce_once(tracker.base + tracker.path, hashes[0])
    if b"failure reason" in reply:
        raise RuntimeError(f"{tracker.name} refuses the benchmark's announce: {reply!r}")
    check = wrk(script, tracker.base, 3, connections)
    if check["failures"] or check["non2xx"] or check["checked"] != check["requests"]:
        raise RuntimeError(f"{tracker.name} failed announces: {check}")
    tracker.checked = check["checked"]


def timed(tracker: Tracker, script: Path, seconds: int, connections: int) -> Run:
    stats = wrk(script, tracker.base, seconds, connections)
    return Run(
        per_second=stats["requests"] / (stats["duration_us"] / 1e6),
        requests=stats["requests"],
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        non2xx=stats["non2xx"],
        socket_errors=stats["errors"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each timed run")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each, alternated")
    parser.add_argument("--connections", type=int, default=32, help="concurrent wrk connections")
    parser.add_argument("--torrents", type=int, default=100, help="size of the torrent pool")
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # Short: the embedded Redis socket lives inside it (sun_path is 108 bytes).
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-trk-", dir="/tmp"))
    hashes = infohashes(args.torrents)
    try:
        print(f"setting up {data_dir} ...", flush=True)
        passkey = prepare(data_dir, hashes)
        our_port, reference_port = free_port(), free_port()
        trackers = [
            Tracker("ours", f"http://127.0.0.1:{our_port}", f"/announce/{passkey}"),
            Tracker("opentracker", f"http://127.0.0.1:{reference_port}", "/announce"),
        ]
        scripts = {t.name: write_scripts(t, hashes, data_dir) for t in trackers}
        with (
            our_tracker(data_dir, our_port),
            opentracker(data_dir, reference_port, hashes),
        ):
            for tracker in trackers:
                print(f"verifying {tracker.name} ...", flush=True)
                verify(tracker, scripts[tracker.name]["verify"], hashes, args.connections)
            # Alternated, so that a neighbour's load on a shared machine hits both alike.
            for round_number in range(1, args.rounds + 1):
                for tracker in trackers:
                    run = timed(
                        tracker, scripts[tracker.name]["timed"], args.seconds, args.connections
                    )
                    tracker.runs.append(run)
                    print(
                        f"round {round_number} {tracker.name}: {run.per_second:.0f}/s",
                        flush=True,
                    )
    finally:
        subprocess.run(
            [PYTHON, "manage.py", "shell", "-c",
             "from django.conf import settings; from btt_platform import embedded; "
             "embedded.stop(settings.DATA_DIR)"],
            cwd=BASE_DIR, env=scratch_environment(data_dir), check=False, timeout=60,
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(data_dir, ignore_errors=True)

    print()
    print(
        f"wrk -t1 -c{args.connections} -d{args.seconds}s x {args.rounds} rounds, "
        f"Connection: close, {args.torrents} torrents, {PEERS} peers, {os.cpu_count()} CPUs, "
        f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"{'tracker':<12} {'median/s':>9} {'runs/s':>22} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non-2xx':>8} {'verified':>9}"
    )
    for t in trackers:
        m = t.median()
        runs = " ".join(f"{r.per_second:.0f}" for r in t.runs)
        print(
            f"{t.name:<12} {m.per_second:>9.0f} {runs:>22} {m.p50_ms:>7.2f} {m.p99_ms:>7.2f} "
            f"{m.non2xx:>8} {t.checked:>9}"
        )
    ours, reference = (t.median().per_second for t in trackers)
    paired = sorted(
        mine.per_second / theirs.per_second
        for mine, theirs in zip(trackers[0].runs, trackers[1].runs, strict=True)
    )
    print(f"ratio ours/opentracker (medians): {ours / reference:.3f}")
    print(f"ratio per round: {' '.join(f'{r:.3f}' for r in paired)}")
    # opentracker resets each connection after its answer; wrk counts that as a read error.
    print("socket errors: " + ", ".join(f"{t.name} {t.median().socket_errors}" for t in trackers))


if __name__ == "__main__":
    main()
