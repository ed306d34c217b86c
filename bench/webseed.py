"""Web seed throughput next to nginx serving the same file, in one run, idle and busy.

    .venv/bin/python bench/webseed.py [--seconds 5] [--rounds 3] [--size-mib 1024]

Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated, ``DEBUG=true``), a
file of random bytes (1 GiB by default; the page cache then holds it) and a free content row for
it, and starts three servers side by side, each one process:

- **nginx**: nginx alone serving the file statically (``/direct/`` in deploy/nginx-local.conf,
  one worker): the reference;
- **x-accel**: the same nginx in front of our web process (uvicorn, ``WEBSEED_X_ACCEL=true``),
  which authorises each request and answers with ``X-Accel-Redirect``;
- **dev**: our web process alone (uvicorn, ``WEBSEED_X_ACCEL`` off), streaming the file from
  Python with the async iterator, as in development.

Each server first answers one exact range by hand (206, the right ``Content-Range`` and
length). Then one wrk script (1 thread) sends GET requests for ranges of 1-4 MiB at random
offsets, as a web-seed client does, in two patterns: "Range 1-4 MiB" on one connection and "8
parallel ranges" on 8 connections. Each pattern runs ``--rounds`` rounds of ``--seconds`` per
server, the three servers in turn and the order reversed every round; the figure of x-accel and
of dev is the median of their per-round ratios to nginx (MB/s received). All of it
twice: with nothing of the bench's own beside (the machine's other jobs still run: see the
load averages) and beside ``stress-ng --cpu 2``. Goals: x-accel/nginx >= 0.9 and dev/nginx >=
0.5, for both patterns, idle and busy. ``section()`` returns the markdown of bench/RESULTS.md's
section; run as a script, it prints it. Bounded: setup, then 2 x 2 x 3 x rounds x seconds.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.metadata
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import psutil  # type: ignore[import-untyped]

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import (  # noqa: E402
    PYTHON,
    Paired,
    busy,
    cpu_seconds,
    free_port,
    goal_line,
    loads,
    machine,
    running,
    stop_scratch_redis,
    table,
    wait_until,
    write_file,
)
from bench.common import section as markdown_section  # noqa: E402

COMMAND = ".venv/bin/python bench/webseed.py"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FILE_NAME = "bench.bin"
SERVERS = ("nginx", "x-accel", "dev")
PATTERNS = (("Range 1-4 MiB", 1), ("8 parallel ranges", 8))  # name, wrk connections
CONDITIONS = (("idle", 0), ("busy", 2))  # name, stress-ng CPUs beside
GOALS = {"x-accel": 0.9, "dev": 0.5}  # ratio to nginx, at least

# wrk script: each request asks for 1-4 MiB at a random offset (the same sequence for every
# server: one thread, one seed); done() reports body bytes and the non-2xx answers and socket
# errors, so that a server returning errors cannot look fast.
WRK_SCRIPT = Template("""
local size = $size
local path = "$path"
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("seed", counter * 7919)
end

function init(args)
    math.randomseed(seed)
end

function request()
    local length = math.random(1, 4) * 1048576
    local first = math.random(0, size - length)
    return wrk.format("GET", path, {["Range"] = "bytes=" .. first .. "-" .. (first + length - 1)})
end

function done(summary, latency, requests)
    io.write(string.format("RESULT bytes=%d duration_us=%d requests=%d non2xx=%d errors=%d\\n",
        summary.bytes, summary.duration, summary.requests, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.timeout))
end
""")


@dataclass
class Result:
    """One wrk run against one server."""

    mb_per_s: float
    bytes: int
    requests: int
    non2xx: int
    errors: int
    cpu_s: float  # user + system time of the server's processes during the run

    @property
    def cpu_s_per_gb(self) -> float:
        return self.cpu_s / (self.bytes / 1e9) if self.bytes else float("nan")


@dataclass
class Row:
    """One machine condition and request pattern: its alternated rounds of the three servers."""

    condition: str
    pattern: str
    connections: int
    load_before: str
    load_after: str = ""
    runs: dict[str, list[Result]] = field(default_factory=lambda: {s: [] for s in SERVERS})

    def paired(self, server: str) -> Paired:
        """``server``'s MB/s against nginx's, round by round (ratio: higher is better)."""
        return Paired(
            [r.mb_per_s for r in self.runs[server]], [r.mb_per_s for r in self.runs["nginx"]]
        )

    def median_mb_per_s(self, server: str) -> float:
        return statistics.median(r.mb_per_s for r in self.runs[server])

    def cpu_per_gb(self, server: str) -> float:
        return statistics.median(r.cpu_s_per_gb for r in self.runs[server])

    def bad(self, server: str) -> int:
        return sum(r.non2xx + r.errors for r in self.runs[server])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback http only
            return True
    except urllib.error.HTTPError:
        return True  # it answers
    except OSError:
        return False


def scratch_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="true",
        BTT_DATA_DIR=str(data_dir),
        CONTENT_ROOT=str(data_dir / "content"),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        WEBSEED_RATE_LIMIT="0",
    )
    env.update(extra)
    return env


SETUP_ROWS = """
from accounts.models import User
from creators.models import Creator
from swarm.models import Content, ContentFile
user = User.objects.create_user(username="bench", email="bench@example.com", password=None)
creator = Creator.objects.create(user=user, handle="bench", display_name="Bench",
                                 payout_address="TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4")
content = Content.objects.create(creator=creator, title="Bench", name="%(name)s",
                                 access=Content.Access.FREE, state=Content.State.SEEDING,
                                 total_size=%(size)d, infohash="%(infohash)s")
ContentFile.objects.create(content=content, path="%(name)s", original_name="%(name)s",
                           size=%(size)d)
print(content.pk)
"""


def prepare(data_dir: Path, size: int) -> int:
    """Migrates a scratch database, adds a free content row; returns its id."""
    env = scratch_environment(data_dir)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--verbosity", "0"], cwd=BASE_DIR, env=env, check=True
    )
    code = SETUP_ROWS % {"name": FILE_NAME, "size": size, "infohash": "b" * 40}
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip().splitlines()[-1])


@contextmanager
def uvicorn(data_dir: Path, port: int, **extra: str) -> Iterator[int]:
    """Our web process (one uvicorn process, the real ASGI app); yields its pid."""
    args = [PYTHON, "-m", "uvicorn", "btt_site.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--lifespan", "off", "--no-access-log",
            "--log-level", "warning"]  # fmt: skip
    log = data_dir / f"uvicorn-{port}.log"
    with running(args, log, env=scratch_environment(data_dir, **extra)) as child:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 60, f"uvicorn ({log})")
        yield child.pid


def render_nginx_config(**parameters: str) -> str:
    """deploy/nginx-local.conf with its @name@ parameters filled in."""
    text = (BASE_DIR / "deploy" / "nginx-local.conf").read_text()
    return re.sub(r"@([a-z_]+)@", lambda match: parameters[match.group(1)], text)


@contextmanager
def nginx(data_dir: Path, port: int, upstream_port: int) -> Iterator[list[int]]:
    """nginx on deploy/nginx-local.conf; yields the pids of its master and worker."""
    prefix = data_dir / f"nginx-{port}"
    prefix.mkdir()
    config = render_nginx_config(
        prefix=str(prefix),
        listen=f"127.0.0.1:{port}",
        upstream=f"127.0.0.1:{upstream_port}",
        content_root=f"{data_dir / 'content'}/",
        static_root=f"{data_dir / 'static'}/",
        user=getpass.getuser(),
    )
    (prefix / "nginx.conf").write_text(config)
    args = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"]
    with running(args, prefix / "stderr.log", env=dict(os.environ)) as master:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/direct/"), 60, "nginx")
        yield [master.pid, *(child.pid for child in psutil.Process(master.pid).children())]


def wrk(url: str, script: Path, seconds: int, connections: int, pids: list[int]) -> Result:
    cpu = sum(cpu_seconds(pid) for pid in pids)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
         "-s", str(script), url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    spent = sum(cpu_seconds(pid) for pid in pids) - cpu
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    fields = {key: int(value) for key, value in (item.split("=") for item in line.split()[1:])}
    mb_per_s = fields["bytes"] / (fields["duration_us"] / 1e6) / 1e6
    return Result(mb_per_s, fields["bytes"], fields["requests"], fields["non2xx"],
                  fields["errors"], spent)  # fmt: skip


def check_range(url: str, size: int) -> None:
    """One request by hand: the answer must be the exact range, not just any fast bytes."""
    request = urllib.request.Request(url, headers={"Range": "bytes=100-199"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        body = response.read()
        if (
            response.status != 206
            or response.headers["Content-Range"] != f"bytes 100-199/{size}"
            or len(body) != 100
        ):
            raise RuntimeError(
                f"{url} answered {response.status}, Content-Range "
                f"{response.headers['Content-Range']!r}, {len(body)} bytes to bytes=100-199"
            )


def measure(
    row: Row,
    targets: dict[str, tuple[str, Path, list[int]]],
    rounds: int,
    seconds: int,
) -> None:
    """``rounds`` rounds of the three servers, the order reversed every round."""
    for number in range(rounds):
        order = SERVERS if number % 2 == 0 else SERVERS[::-1]
        for server in order:
            url, script, pids = targets[server]
            result = wrk(url, script, seconds, row.connections, pids)
            row.runs[server].append(result)
            print(
                f"{row.condition} / {row.pattern}, round {number + 1} {server:8} "
                f"{result.mb_per_s:8.1f} MB/s  CPU {result.cpu_s_per_gb:.2f} s/GB  "
                f"non-2xx {result.non2xx}  errors {result.errors}",
                file=sys.stderr,
                flush=True,
            )


def run(args: argparse.Namespace) -> list[Row]:
    size = args.size_mib * 1024 * 1024
    # Short: the embedded Redis socket lives inside it (sun_path is 108 bytes).
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-ws-", dir="/tmp"))
    rows: list[Row] = []
    try:
        print(f"scratch data folder {data_dir}; writing a {args.size_mib} MiB file ...",
              file=sys.stderr, flush=True)  # fmt: skip
        content_id = prepare(data_dir, size)
        write_file(data_dir / "content" / str(content_id) / FILE_NAME, size)
        paths = {
            "nginx": f"/direct/{content_id}/{FILE_NAME}",
            "x-accel": f"/webseed/{content_id}/open/{FILE_NAME}",
            "dev": f"/webseed/{content_id}/open/{FILE_NAME}",
        }
        scripts = {}
        for server, path in paths.items():
            scripts[server] = data_dir / f"{server}.lua"
            scripts[server].write_text(WRK_SCRIPT.substitute(size=size, path=path))
        app_port, accel_app_port, nginx_port = free_port(), free_port(), free_port()
        front, app = f"http://127.0.0.1:{nginx_port}", f"http://127.0.0.1:{app_port}"
        # All three up at once and run in turns, so that whatever else the machine is doing
        # weighs on each of them alike.
        with (
            uvicorn(data_dir, accel_app_port, WEBSEED_X_ACCEL="true") as accel_pid,
            nginx(data_dir, nginx_port, accel_app_port) as nginx_pids,
            uvicorn(data_dir, app_port) as dev_pid,
        ):
            targets = {
                "nginx": (front, scripts["nginx"], nginx_pids),
                "x-accel": (front, scripts["x-accel"], [*nginx_pids, accel_pid]),
                "dev": (app, scripts["dev"], [dev_pid]),
            }
            for server, (base, _, _) in targets.items():
                check_range(base + paths[server], size)
            for condition, cpus in CONDITIONS:
                with busy(cpus):
                    for pattern, connections in PATTERNS:
                        row = Row(condition, pattern, connections, loads())
                        measure(row, targets, args.rounds, args.seconds)
                        row.load_after = loads()
                        rows.append(row)
    finally:
        stop_scratch_redis(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def missed_why(row: Row, server: str) -> str:
    ours, theirs = row.cpu_per_gb(server), row.cpu_per_gb("nginx")
    if server == "dev":
        how = (
            "the dev path copies every byte through Python (pread, then the socket) where "
            "nginx uses sendfile"
        )
    else:
        how = (
            "each range is first a proxied request to the web process (authorise, then "
            "X-Accel-Redirect) before nginx sends the file"
        )
    return (
        f"CPU per GB served: {server} {ours:.2f} s, nginx {theirs:.2f} s; {how}. wrk, nginx "
        f"and the app share the machine's {os.cpu_count()} CPUs (load in the table)."
    )


def goal(row: Row, server: str) -> str:
    what = f"{row.condition}, {row.pattern}: {server}/nginx"
    bad = row.bad(server) + row.bad("nginx")
    if bad:
        return (
            f"- Goal missed: {what}: {bad} answers of {server} or nginx were not 2xx or "
            "failed, so the figures do not count."
        )
    return goal_line(
        what, row.paired(server).ratio, GOALS[server], at_most=False, why=missed_why(row, server)
    )


def versions() -> str:
    nginx_version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return (
        f"{nginx_version.removeprefix('nginx version: ')}, "
        f"uvicorn {importlib.metadata.version('uvicorn')}, "
        f"{wrk_version.split(' [')[0].strip() or 'wrk'}"
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each server, alternated")
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the file served")
    return parser


def section(argv: Sequence[str] | None = None) -> str:
    """Run the bench (its defaults unless ``argv``) and return its section of RESULTS.md."""
    args = parser().parse_args(list(argv or []))
    before = loads()
    rows = run(args)
    header = ["machine", "pattern", "load before / after", "nginx MB/s", "x-accel MB/s",
              "dev MB/s", "x-accel/nginx per round", "x-accel/nginx (goal >= 0.9)",
              "dev/nginx per round", "dev/nginx (goal >= 0.5)",
              "CPU s per GB, nginx / x-accel / dev", "non-2xx / errors"]  # fmt: skip
    cells = []
    for row in rows:
        accel, dev = row.paired("x-accel"), row.paired("dev")
        cells.append([
            row.condition if row.condition == "idle" else "busy (stress-ng --cpu 2)",
            f"{row.pattern} ({row.connections} conn.)",
            f"{row.load_before} / {row.load_after}",
            *(f"{row.median_mb_per_s(server):.0f}" for server in SERVERS),
            " ".join(f"{r:.2f}" for r in accel.ratios), f"**{accel.ratio:.2f}**",
            " ".join(f"{r:.2f}" for r in dev.ratios), f"**{dev.ratio:.2f}**",
            " / ".join(f"{row.cpu_per_gb(server):.2f}" for server in SERVERS),
            f"{sum(r.non2xx for s in SERVERS for r in row.runs[s])} / "
            f"{sum(r.errors for s in SERVERS for r in row.runs[s])}",
        ])  # fmt: skip
    method = (
        (__doc__ or "").split("\n\n", 2)[2].strip()
        + f"\n\nThis run: {args.rounds} round{'s' if args.rounds != 1 else ''} of "
        f"{args.seconds} s per server, pattern and "
        f"condition; a {args.size_mib} MiB file. Machine: {machine()}; {versions()}."
    )
    notes = [
        f"Load average before the bench: {before}; after: {loads()}.",
        "MB/s: the bytes wrk received (bodies and headers) over the run's length; the figures "
        "in the ratio columns are per round, the bold one their median. CPU s per GB: user + "
        "system time of the server's processes over a run (nginx: its master and worker; "
        "x-accel: those and the web process; dev: the web process; the open token costs no "
        "Redis round trip), per GB received (median of the rounds); wrk's own is not counted.",
        "Web-seed requests skip Django's middleware stack: `swarm.webseed.asgi.WebSeedRouter` "
        "answers them in front of Django in `btt_site/asgi.py`, with authorisation decisions "
        "cached in the process for a second (`WEBSEED_AUTH_CACHE_SECONDS`). Through the full "
        "stack (two sync-only middlewares force a thread hop, plus a fresh database connection "
        "per request) the app managed about 150 requests/s, which held x-accel to 0.19x and "
        "dev to 0.14x (one early run on a 256 MiB file).",
        "Interop, checked by hand on the dev path: aria2c 1.36 and a libtorrent 2.1.1 session "
        "each downloaded a single-file and a bundle torrent (names with spaces, `%` and `?`) "
        "from the web seed alone, byte-identical.",
        "The dev path copies every byte through Python (pread, then the socket) where nginx "
        "uses sendfile; it is for development, production uses X-Accel.",
        "Memory: a 2 GiB file streamed whole by the dev path grew the server's RSS by about 3 "
        "MiB (`tests/swarm/test_webseed.py::test_a_2_gib_file_keeps_the_server_memory_flat`).",
    ]
    goals = [goal(row, server) for row in rows for server in ("x-accel", "dev")]
    command = " ".join([COMMAND, *(argv or [])])
    return markdown_section("Web seed", command, method, table(header, cells), notes, goals)


if __name__ == "__main__":
    print(section(sys.argv[1:]))
