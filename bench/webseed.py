"""Web seed throughput next to nginx serving the same file, in one run.

    .venv/bin/python bench/webseed.py [--seconds 10] [--rounds 3] [--size-mib 1024]

Sets up a scratch data folder (embedded SQLite and Redis in /tmp), a 1 GiB content file and a
free content row for it, then drives three servers with the same wrk script (Range requests of
1-4 MiB at random offsets, as a web-seed client sends them):

  nginx    nginx alone, serving the file statically (the reference)
  dev      our web process under uvicorn, streaming with the async iterator (WEBSEED_X_ACCEL off)
  x-accel  nginx in front of our web process, which answers with X-Accel-Redirect

in alternating rounds, and prints the median MB/s of each and the ratios dev/nginx (goal >= 0.5)
and x-accel/nginx (goal >= 0.9). nginx runs deploy/nginx-local.conf with one worker, and uvicorn
one process: one process each.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import section_from_output, stop_scratch_redis  # noqa: E402

COMMAND = ".venv/bin/python bench/webseed.py"
PYTHON = sys.executable
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FILE_NAME = "bench.bin"

# wrk script: each request asks for 1-4 MiB at a random offset; done() reports body bytes and
# non-2xx answers so that a server returning errors cannot look fast.
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
    name: str
    mb_per_s: float
    requests: int
    non2xx: int
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback http only
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.2)


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


def write_file(path: Path, size: int) -> None:
    """Incompressible bytes (the page cache then holds them, as for a popular upload)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(16 * 1024 * 1024)
    with open(path, "wb") as out:
        written = 0
        while written < size:
            n = min(len(block), size - written)
            out.write(block[:n])
            written += n


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def uvicorn(data_dir: Path, port: int, **extra: str) -> Iterator[None]:
    env = scratch_environment(data_dir, **extra)
    args = [PYTHON, "-m", "uvicorn", "btt_site.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--lifespan", "off", "--no-access-log",
            "--log-level", "warning"]  # fmt: skip
    with running(args, env, data_dir / f"uvicorn-{port}.log"):
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield


def render_nginx_config(**parameters: str) -> str:
    """deploy/nginx-local.conf with its @name@ parameters filled in."""
    text = (BASE_DIR / "deploy" / "nginx-local.conf").read_text()
    config = re.sub(r"@([a-z_]+)@", lambda match: parameters[match.group(1)], text)
    return config


@contextmanager
def nginx(data_dir: Path, port: int, upstream_port: int) -> Iterator[None]:
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
    with running(args, dict(os.environ), prefix / "stderr.log"):
        wait_http(f"http://127.0.0.1:{port}/direct/")
        yield


def wrk(name: str, url: str, path: str, size: int, seconds: int, connections: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.substitute(size=size, path=path))
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
             "-s", script.name, url],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    fields = dict(item.split("=") for item in line.split()[1:])
    mb_per_s = int(fields["bytes"]) / (int(fields["duration_us"]) / 1e6) / 1e6
    return Result(
        name, mb_per_s, int(fields["requests"]), int(fields["non2xx"]), int(fields["errors"])
    )


def check_range(url: str, size: int) -> None:
    """One request by hand: the answer must be the exact range, not just any fast bytes."""
    request = urllib.request.Request(url, headers={"Range": "bytes=100-199"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 206, response.status
        assert response.headers["Content-Range"] == f"bytes 100-199/{size}"
        assert len(response.read()) == 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each server, alternated")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=1024)
    options = parser.parse_args()
    size = options.size_mib * 1024 * 1024

    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-", dir="/tmp"))
    runs: dict[str, list[Result]] = {"nginx": [], "x-accel": [], "dev": []}
    try:
        print(f"scratch data folder {data_dir}; writing a {options.size_mib} MiB file ...")
        content_id = prepare(data_dir, size)
        write_file(data_dir / "content" / str(content_id) / FILE_NAME, size)
        webseed_path = f"/webseed/{content_id}/open/{FILE_NAME}"
        direct_path = f"/direct/{content_id}/{FILE_NAME}"
        app_port, accel_app_port, nginx_port = free_port(), free_port(), free_port()
        front, app = f"http://127.0.0.1:{nginx_port}", f"http://127.0.0.1:{app_port}"
        targets = {"nginx": (front, direct_path), "x-accel": (front, webseed_path),
                   "dev": (app, webseed_path)}  # fmt: skip

        # All three up at once and run in turns, so that whatever else the machine is doing
        # weighs on each of them alike; the median of the rounds is reported.
        with (
            uvicorn(data_dir, accel_app_port, WEBSEED_X_ACCEL="true"),
            nginx(data_dir, nginx_port, accel_app_port),
            uvicorn(data_dir, app_port),
        ):
            for base, path in targets.values():
                check_range(base + path, size)
            for round_ in range(options.rounds):
                for name, (base, path) in targets.items():
                    result = wrk(name, base, path, size, options.seconds, options.connections)
                    runs[name].append(result)
                    print(f"  round {round_ + 1} {name:8} {result.mb_per_s:9.1f} MB/s")
    finally:
        stop_scratch_redis(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"\nwrk -t1 -c{options.connections}, {options.rounds} rounds of {options.seconds} s, "
        f"Range requests of 1-4 MiB at random offsets in a {options.size_mib} MiB file (page "
        f"cache warm), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    medians: dict[str, float] = {}
    for name, results in runs.items():
        medians[name] = statistics.median(result.mb_per_s for result in results)
        print(
            f"  {name:8} {medians[name]:9.1f} MB/s median "
            f"(runs: {', '.join(f'{r.mb_per_s:.0f}' for r in results)})  "
            f"{sum(r.requests for r in results)} requests, "
            f"non-2xx {sum(r.non2xx for r in results)}, "
            f"socket errors {sum(r.errors for r in results)}"
        )
    reference = medians["nginx"]
    print(f"  dev/nginx      {medians['dev'] / reference:.2f}x  (goal >= 0.5x)")
    print(f"  x-accel/nginx  {medians['x-accel'] / reference:.2f}x  (goal >= 0.9x)")


def section(argv: Sequence[str] = ()) -> str:
    """Runs the bench (its defaults unless ``argv``); the section quotes what it prints."""
    return section_from_output("Web seed", COMMAND, __doc__ or "", main, argv)


if __name__ == "__main__":
    print(section(sys.argv[1:]))
