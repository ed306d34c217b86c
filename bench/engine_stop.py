"""Stopping the engine (``manage.py runswarm``) that seeds 1,000 contents, and starting it again.

    .venv/bin/python bench/engine_stop.py [--contents 1000] [--rounds 3] [--size-kib 16]

Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated) with ``--contents``
published contents: one small file of random bytes each, hashed with the product's builder
(``swarm.torrents.create_metainfo``, v1-only), rows in the state ``seeding`` as after ingest.
Then the real ``manage.py runswarm`` (production settings, its own listen port, heartbeat every
second) starts and seeds them all; the bench waits until its heartbeat reports every content in
the session, then, ``--rounds`` times:

  stop       SIGTERM, timed until the process has exited (what docker and systemd wait for:
             10 s by default, then SIGKILL). The engine saves every content's resume data on
             the way out; the bench checks the state file holds all of them afterwards.
  restart    ``manage.py runswarm`` again, timed until its heartbeat reports every content in
             the session again and its log says each one was resumed from saved state (none
             re-checked: the bench fails if one is).

No tracker answers: SITE_URL points at a closed loopback port, so announces (and the stopped
announces on the way out) are refused at once; with ``--hung-tracker`` it points at a port that
takes connections and never answers (a tracker that hangs: the stopped announces then wait for
libtorrent's ``stop_tracker_timeout``). ``--stress N`` runs ``stress-ng --cpu N`` beside
the whole run. Everything started is stopped and the scratch folder removed on exit, Ctrl-C
included.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, cast

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import libtorrent as lt  # noqa: E402

from bench.common import section_from_output, stop_scratch_redis  # noqa: E402

COMMAND = ".venv/bin/python bench/engine_stop.py"

PYTHON = sys.executable
HOST = "127.0.0.1"
NODE = "bench-engine"
# Hang guards, not measurements.
START_TIMEOUT = 600.0
STOP_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def loads() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{os.cpu_count()} x {line.split(':', 1)[1].strip()}"
    return f"{os.cpu_count()} x {platform.processor()}"


def scratch_environment(data_dir: Path, closed_port: int) -> dict[str, str]:
    """Production-like settings on the embedded defaults, in the scratch folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        # Nothing listens there: announces are refused at once.
        SITE_URL=f"https://{HOST}:{closed_port}",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS=HOST,
        BTT_DATA_DIR=str(data_dir),
        CONTENT_ROOT=str(data_dir / "content"),
        SWARM_NODE_NAME=NODE,
        SWARM_LISTEN_INTERFACES=f"{HOST}:{free_port()}",
        SWARM_HEARTBEAT_SECONDS="1",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


SETUP_ROWS = """
import os
from pathlib import Path
from django.conf import settings
from accounts.models import User
from creators.models import Creator
from swarm.models import Content, ContentFile
from swarm.torrents import MIN_PIECE_LENGTH, TorrentSpec, create_metainfo
user = User.objects.create_user(username="bench", email="bench@example.com", password=None)
creator = Creator.objects.create(user=user, handle="bench", display_name="Bench",
                                 payout_address="TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4")
size = %(size)d
for i in range(%(count)d):
    name = f"bench-{i}.bin"
    content = Content.objects.create(creator=creator, title=f"Bench {i}", name=name,
                                      access=Content.Access.FREE, total_size=size)
    folder = Path(settings.CONTENT_ROOT) / str(content.pk)
    folder.mkdir(parents=True)
    (folder / name).write_bytes(os.urandom(size))
    spec = TorrentSpec(name=name, files=[("", size)], piece_length=MIN_PIECE_LENGTH)
    metainfo = create_metainfo(spec, folder)
    ContentFile.objects.create(content=content, path=name, original_name=name, size=size)
    import libtorrent as lt
    content.infohash = str(lt.torrent_info(metainfo).info_hashes().v1)
    content.metainfo = metainfo
    content.piece_length = MIN_PIECE_LENGTH
    content.state = Content.State.SEEDING
    content.save()
print(Content.objects.filter(state=Content.State.SEEDING).count())
"""


def manage(env: dict[str, str], *args: str, timeout: float = 600.0) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare(env: dict[str, str], count: int, size: int) -> None:
    manage(env, "migrate", "--verbosity", "0")
    out = manage(env, "shell", "-c", SETUP_ROWS % {"count": count, "size": size})
    assert int(out.strip().splitlines()[-1]) == count, out


def heartbeat(db: Path) -> tuple[float, int] | None:
    """(last heartbeat as a UNIX time, torrents in the session) of the bench's node."""
    with sqlite3.connect(db, timeout=30) as connection:
        row = connection.execute(
            "SELECT strftime('%s', last_heartbeat) + 0.0, torrents FROM swarm_enginenode "
            "WHERE name = ?",
            (NODE,),
        ).fetchone()
    return None if row is None or row[0] is None else (float(row[0]), int(row[1]))


def log_count(log: Path, pattern: str) -> int:
    return len(re.findall(pattern, log.read_text(errors="replace")))


@dataclass
class Run:
    stop: float
    saved: float  # SIGTERM .. the engine's "saved the state" line
    restart: float
    load_before: str
    load_after: str


@contextmanager
def stressed(cpus: int) -> Any:
    if not cpus:
        yield
        return
    stress = shutil.which("stress-ng")
    if stress is None:
        raise SystemExit("stress-ng is not installed (apt-get install -y stress-ng)")
    process = subprocess.Popen(
        [stress, "--cpu", str(cpus), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(2)  # let it take the CPUs
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


class Engine:
    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env, self.work = env, work
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.work / f"engine-{self.starts}.log"

    def start(self, count: int) -> float:
        """Start runswarm; seconds until its heartbeat reports ``count`` torrents and its log
        says each was added (from saved state after the first start)."""
        self.starts += 1
        started_wall = time.time()
        started = time.perf_counter()
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [PYTHON, "manage.py", "runswarm"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        db = Path(self.env["BTT_DATA_DIR"]) / "db.sqlite3"
        pattern = r"seeding content \d+ " if self.starts == 1 else r"resuming content \d+ from"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the engine exited:\n{self.log.read_text()}")
            beat = heartbeat(db)
            if (
                beat is not None
                and beat[0] >= int(started_wall)
                and beat[1] == count
                and log_count(self.log, pattern) >= count
            ):
                elapsed = time.perf_counter() - started
                break
            if time.perf_counter() - started > START_TIMEOUT:
                raise RuntimeError("the engine did not seed everything in time")
            time.sleep(0.05)
        checked = log_count(self.log, r"checking every piece of its files")
        if checked:
            raise RuntimeError(f"{checked} contents were re-checked on start")
        return elapsed

    def stop(self) -> tuple[float, float]:
        """SIGTERM; seconds until the process exited, and until it logged its state saved."""
        assert self.process is not None
        started_wall = time.time()
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(STOP_TIMEOUT)
        elapsed = time.perf_counter() - started
        if code != 0:
            raise RuntimeError(f"the engine exited with {code}:\n{self.log.read_text()}")
        saved = re.findall(
            r"^(\S+ \S+),(\d{3}) \w+ swarm.engine: saved the state of",
            self.log.read_text(errors="replace"),
            re.MULTILINE,
        )
        if not saved:
            raise RuntimeError(f"no state saved on stop:\n{self.log.read_text()[-3000:]}")
        stamp, millis = saved[-1]
        logged = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
        return elapsed, logged - started_wall

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def saved_states(state_dir: Path) -> int:
    """Contents with resume data on disk: entries of the state file (or per-content files)."""
    batch = state_dir / "resume.batch"
    if batch.exists():
        return len(cast(dict[bytes, Any], lt.bdecode(batch.read_bytes())))
    return len(list(state_dir.glob("*.resume")))


def interrupt_on_signals() -> None:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="stop + restart cycles")
    parser.add_argument("--size-kib", type=int, default=16, help="each content's file")
    parser.add_argument("--stress", type=int, default=0, metavar="N", help="stress-ng --cpu N")
    parser.add_argument("--hung-tracker", action="store_true", help="a tracker that never answers")
    options = parser.parse_args()
    interrupt_on_signals()
    hung = socket.socket()
    hung.bind((HOST, 0))
    if options.hung_tracker:
        hung.listen(4096)  # the kernel completes the connections; nobody ever reads them

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu_model()}")
    # Short: the embedded Redis socket lives inside it (sun_path is 108 bytes).
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-stop-", dir="/tmp"))
    env = scratch_environment(data_dir, hung.getsockname()[1])
    engine = Engine(env, data_dir)
    runs: list[Run] = []
    try:
        began = time.perf_counter()
        print(f"setting up {options.contents} contents in {data_dir} ...", flush=True)
        prepare(env, options.contents, options.size_kib * 1024)
        print(f"  {time.perf_counter() - began:.1f} s", flush=True)
        with ExitStack() as stack:
            stack.enter_context(stressed(options.stress))
            first = engine.start(options.contents)
            print(f"first start (seed mode, no saved state): {first:.2f} s", flush=True)
            for number in range(1, options.rounds + 1):
                time.sleep(3)  # a few ticks of steady seeding first
                before = loads()
                stop, saved = engine.stop()
                states = saved_states(Path(env["BTT_DATA_DIR"]) / "swarm")
                if states != options.contents:
                    raise RuntimeError(f"{states} of {options.contents} states on disk")
                restart = engine.start(options.contents)
                runs.append(Run(stop, saved, restart, before, loads()))
                print(
                    f"round {number}: stop {stop:.2f} s (state saved after {saved:.2f} s), "
                    f"restart {restart:.2f} s "
                    f"(load {before} -> {runs[-1].load_after})",
                    flush=True,
                )
            engine.stop()
    finally:
        engine.kill()
        stop_scratch_redis(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    stops = [r.stop for r in runs]
    restarts = [r.restart for r in runs]
    print()
    print(
        f"{options.contents} contents, {options.rounds} rounds"
        + (f", stress-ng --cpu {options.stress} beside" if options.stress else "")
        + (", a tracker that never answers" if options.hung_tracker else "")
    )
    print(
        f"stop: median {statistics.median(stops):.2f} s, max {max(stops):.2f} s "
        f"(goal < 3 s); restart: median {statistics.median(restarts):.2f} s, "
        f"max {max(restarts):.2f} s"
    )


def section(argv: Sequence[str] = ()) -> str:
    """Runs the bench (its defaults unless ``argv``); the section quotes what it prints."""
    return section_from_output("Engine stop", COMMAND, __doc__ or "", main, argv)


if __name__ == "__main__":
    print(section(sys.argv[1:]))
