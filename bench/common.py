"""What the benches share: free ports, child processes, waiting, signals, scratch files, a
busy machine (``busy``), alternating rounds (``alternate``) and the markdown of a section.

A bench is run as a script (``.venv/bin/python bench/<name>.py``); it puts the repository on
``sys.path`` before importing this module as ``bench.common``.
"""

from __future__ import annotations

import io
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now, on HOST (TCP, or ``socket.SOCK_DGRAM`` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def loads() -> str:
    """The load averages, for the report: on a shared machine they weigh on every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def running(
    args: list[str],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    own_session: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process writing to ``log``, stopped on exit (SIGTERM, SIGKILL after 20 s).

    ``own_session``: the child is not in the bench's process group, so a Ctrl-C reaches the
    bench only, which then stops it here.
    """
    with open(log, "wb") as out:
        child = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=out, stderr=out, start_new_session=own_session
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def spread(values: list[float]) -> str:
    """Median, 90th percentile and maximum of ``values`` (seconds), in milliseconds."""
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms (n={len(ordered)})"
    )


def interrupt_on_signals() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops what it started."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C and kill -INT must still stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def stop_scratch_redis(data_dir: Path) -> None:
    """Stops the embedded Redis of a scratch data folder (with a save, as every stop does), from a
    child process: the bench process itself does not import the platform."""
    subprocess.run(
        [PYTHON, "-c", "import sys; from pathlib import Path; from btt_platform import embedded; "
         "embedded.stop(Path(sys.argv[1]))", str(data_dir)],
        cwd=BASE_DIR, check=False, timeout=60, capture_output=True,
    )  # fmt: skip


def production_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """A child process's environment with production settings (DEBUG off) on the embedded
    defaults in ``data_dir`` (a ``DATABASE_URL``/``REDIS_URL`` of the bench's own shell is
    dropped; ``extra`` sets them, or anything else)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        # Production refuses a plain-http SITE_URL; the benches speak plain http to loopback
        # ports, and redirect nothing.
        SITE_URL="https://127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        BTT_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_file(path: Path, size: int) -> None:
    """Incompressible bytes, written once (the page cache then holds them for every reader)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * 1024 * 1024))
            out.write(chunk)
            left -= len(chunk)


@contextmanager
def scratch_postgres(server: str | None, prefix: str) -> Iterator[str | None]:
    """A database of its own on ``server``, named ``<prefix>_<random>`` and dropped afterwards;
    None for SQLite."""
    if not server:
        yield None
        return
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the report: every bench's section of bench/RESULTS.md ---------------------------------------


def cpu_model() -> str:
    """``2 x AMD EPYC ...``: the CPUs every figure was measured on."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{os.cpu_count()} x {line.split(':', 1)[1].strip()}"
    return f"{os.cpu_count()} x {platform.processor() or 'unknown CPU'}"


def machine() -> str:
    """Date, CPUs and Python of this run, for a section's method."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{when}; {cpu_model()}; Python {platform.python_version()}"


@contextmanager
def busy(cpus: int = 2) -> Iterator[None]:
    """``stress-ng --cpu <cpus>`` beside whatever runs inside: the busy machine of the goals
    (load 2-4 on top of what is there), repeatable. ``cpus=0`` runs nothing beside."""
    if not cpus:
        yield
        return
    stress = shutil.which("stress-ng")
    if stress is None:
        raise SystemExit("stress-ng is not installed: bash tools/debian-packages.sh bench")
    process = subprocess.Popen(
        [stress, "--cpu", str(cpus), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(2)  # let it take the CPUs before anything is timed
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


@dataclass
class Paired:
    """Rounds of ours and of a reference, run back to back in alternating order."""

    ours: list[float] = field(default_factory=list)  # seconds
    reference: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)  # 1-minute load average before each round

    @property
    def ratios(self) -> list[float]:
        """ours / reference of each round (a time: lower is better for ours)."""
        return [mine / theirs for mine, theirs in zip(self.ours, self.reference, strict=True)]

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios: a round's two runs share the machine's moment,
        so the ratio holds where the times themselves swing with the neighbours' load."""
        return statistics.median(self.ratios)


def alternate(rounds: int, ours: Callable[[], float], reference: Callable[[], float]) -> Paired:
    """``rounds`` of both timings (each returns seconds), the order swapped every round so
    neither always runs on the cache or the CPU the other left."""
    paired = Paired()
    for number in range(rounds):
        paired.loads.append(os.getloadavg()[0])
        if number % 2:
            theirs = reference()
            mine = ours()
        else:
            mine = ours()
            theirs = reference()
        paired.ours.append(mine)
        paired.reference.append(theirs)
    return paired


def goal_line(what: str, value: float, target: float, *, at_most: bool, why: str = "") -> str:
    """``Goal met: ...`` or ``Goal missed: ... why``, for a section's verdict."""
    met = value <= target if at_most else value >= target
    sign = "<=" if at_most else ">="
    line = f"{what} {value:.2f} (goal {sign} {target:g})"
    return f"- Goal met: {line}." if met else f"- Goal missed: {line}. {why}".rstrip()


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def section(
    title: str,
    command: str,
    method: str,
    body: str,
    notes: Sequence[str] = (),
    goals: Sequence[str] = (),
) -> str:
    """A bench's part of bench/RESULTS.md: ``## title``, the command, the method, the
    figures (tables), notes, and one ``Goal met`` / ``Goal missed: why`` line per goal."""
    parts = [f"## {title}", f"`{command}`", method.strip(), body.strip()]
    if notes:
        parts.append("Notes:\n" + "\n".join(f"- {note}" for note in notes))
    if goals:
        parts.append("\n".join(goals))
    return "\n\n".join(parts) + "\n"


_GOAL = re.compile(r"([0-9.]+)\s*(?:x|s)?\)?\s*\(goal\s*([<>]=?)\s*([0-9.]+)")


class _Tee(io.StringIO):
    """Kept for the section, and shown as it comes (on stderr: stdout carries the section)."""

    def write(self, text: str) -> int:
        sys.stderr.write(text)
        return super().write(text)


def section_from_output(
    title: str,
    command: str,
    method: str,
    main: Callable[[], None],
    argv: Sequence[str] = (),
) -> str:
    """The section of a bench that prints its figures: ``main`` run with ``argv`` (its
    defaults when empty), its output quoted, and every ``<value> (goal <op> <target>)`` it
    prints judged."""
    before = loads()
    saved = sys.argv
    sys.argv = [command.split()[1], *argv]
    out = _Tee()
    try:
        with redirect_stdout(out):
            main()
    finally:
        sys.argv = saved
    printed = out.getvalue().strip()
    goals = []
    for value, sign, target in _GOAL.findall(printed):
        at_most = sign.startswith("<")
        met = float(value) <= float(target) if at_most else float(value) >= float(target)
        goals.append(
            f"- Goal {'met' if met else 'missed'}: {value} (goal {sign} {target})"
            + ("." if met else "; see the output above.")
        )
    if argv:
        command = f"{command} {' '.join(argv)}"
    body = f"Load average before: {before}; after: {loads()}.\n\n```\n{printed}\n```"
    return section(title, command, f"{method.strip()}\n\nMachine: {machine()}.", body, (), goals)
