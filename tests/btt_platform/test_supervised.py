"""``make run`` (``manage.py runall``) supervises its processes: a crashed one comes back, the
others keep running, and Ctrl-C stops them all, then the embedded Redis, with a save."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from btt_platform import embedded
from btt_platform.management.commands import runnginx
from btt_platform.management.commands.runall import parse_procfile
from tests.fixtures.processes import process_environment, start_child, wait_for

SLEEPER = """
import os, sys, time
with open(sys.argv[1], "a") as pids:
    pids.write(f"{os.getpid()}\\n")
while True:
    time.sleep(60)
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Its own data folder, so its own embedded Redis (the test run's is not runall's to stop).
    folder = Path(tempfile.mkdtemp(prefix="btt-run-", dir="/tmp"))
    try:
        yield folder
    finally:
        embedded.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.processes
def test_a_killed_process_comes_back_and_the_others_keep_running(
    data_dir: Path, tmp_path: Path, transactional_db: None
) -> None:
    # given: runall with two processes of a Procfile, on its own embedded Redis
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"# two stand-ins for web and worker\n"
        f"alpha: python {script} {tmp_path / 'alpha.pids'}\n"
        f"beta: python {script} {tmp_path / 'beta.pids'}\n"
    )
    assert list(parse_procfile(procfile.read_text())) == ["alpha", "beta"]
    env = process_environment(BTT_DATA_DIR=str(data_dir))
    env.pop("REDIS_URL", None)
    runall = start_child(
        "runall",
        [sys.executable, "manage.py", "runall", "--no-setup", "--procfile", str(procfile)],
        env,
        tmp_path,
    )
    try:
        wait_for(
            lambda: pids(tmp_path / "alpha.pids") and pids(tmp_path / "beta.pids"),
            timeout=60,
            what="both processes",
        )
        assert embedded._answers(embedded.socket_path(data_dir))
        (alpha,) = pids(tmp_path / "alpha.pids")
        (beta,) = pids(tmp_path / "beta.pids")

        # when: one is killed -9
        os.kill(alpha, signal.SIGKILL)

        # then: it comes back with a new pid, and the other kept its own
        wait_for(lambda: len(pids(tmp_path / "alpha.pids")) == 2, what="alpha to come back")
        new_alpha = pids(tmp_path / "alpha.pids")[1]
        assert new_alpha != alpha
        assert alive(new_alpha)
        assert pids(tmp_path / "beta.pids") == [beta]
        assert alive(beta)
        assert runall.process.poll() is None

        # when: Ctrl-C
        runall.process.send_signal(signal.SIGINT)
        assert runall.process.wait(60) == 0, runall.output()
    finally:
        runall.stop()

    # then: every process stopped, and the embedded Redis too, after a save
    assert not alive(new_alpha)
    assert not alive(beta)
    assert not embedded._answers(embedded.socket_path(data_dir))
    assert (embedded.redis_dir(data_dir) / "dump.rdb").exists()
    log = runall.output()
    assert "exited: alpha (terminated by SIGKILL; not expected)" in log
    assert "stopped: alpha (terminated by SIGTERM)" in log
    assert "stopped: beta (terminated by SIGTERM)" in log


# Waits for a go file, then writes far more than a pipe holds (64 KiB) and says it is done.
TALKER = """
import os, sys, time
go, done = sys.argv[1], sys.argv[2]
with open(done + ".pid", "w") as pid:
    pid.write(str(os.getpid()))
while not os.path.exists(go):
    time.sleep(0.05)
for line in range(20000):
    print(f"line {line} " + "x" * 90, flush=True)
open(done, "w").close()
while True:
    time.sleep(60)
"""


@pytest.mark.processes
def test_with_a_log_dir_a_process_logs_on_while_supervisord_is_stopped(
    data_dir: Path, tmp_path: Path, transactional_db: None
) -> None:
    # given: runall writing each process's output to a folder of logs
    script = tmp_path / "talker.py"
    script.write_text(TALKER)
    go, done = tmp_path / "go", tmp_path / "done"
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"talker: python {script} {go} {done}\n")
    logs = tmp_path / "logs"
    env = process_environment(BTT_DATA_DIR=str(data_dir))
    env.pop("REDIS_URL", None)
    command = ["runall", "--no-setup", "--procfile", str(procfile), "--log-dir", str(logs)]
    runall = start_child("runall", [sys.executable, "manage.py", *command], env, tmp_path)
    supervisord = data_dir / "supervisor" / "supervisord.pid"
    try:
        wait_for(lambda: Path(f"{done}.pid").exists(), timeout=60, what="the talker")
        wait_for(supervisord.exists, timeout=60, what="supervisord's pid file")

        # when: supervisord is stopped (a debugger, SIGSTOP, a frozen terminal), and the
        # process then writes 2 MiB of log
        os.kill(int(supervisord.read_text()), signal.SIGSTOP)
        try:
            go.touch()

            # then: it is not held up on its log: every line is in its file
            wait_for(done.exists, timeout=60, what="the talker to write its 2 MiB")
        finally:
            os.kill(int(supervisord.read_text()), signal.SIGCONT)
        log = (logs / "talker.log").read_text()
        assert log.count("\n") == 20000
        assert log.splitlines()[-1].startswith("line 19999 ")

        runall.process.send_signal(signal.SIGINT)
        assert runall.process.wait(60) == 0, runall.output()
    finally:
        runall.stop()


def test_the_cluster_procfile_puts_nginx_before_two_web_processes_and_scales_out() -> None:
    # given: Procfile.cluster, as `make run-cluster` reads it
    processes = parse_procfile(Path("Procfile.cluster").read_text())

    # then: nginx in front of two web processes, two default-queue workers, beat, the watcher
    # and three swarm nodes each on its own loopback address
    assert "runnginx" in processes["nginx"]
    upstreams = processes["nginx"].split("--upstream ")[1:]
    assert [u.strip() for u in upstreams] == [
        "127.0.0.1:$((${WEB_PORT:-8000} + 10))",
        "127.0.0.1:$((${WEB_PORT:-8000} + 11))",
    ]
    for web, upstream in zip(("web", "web-2"), upstreams, strict=True):
        assert f"--port {upstream.strip().removeprefix('127.0.0.1:')} " in processes[web]
    assert [n for n, c in processes.items() if "worker" in c and "-Q celery" in c] == [
        "worker",
        "worker-2",
    ]
    assert {"beat", "watcher"} <= set(processes)
    nodes = {n: c for n, c in processes.items() if c.endswith("manage.py runswarm")}
    assert sorted(nodes) == ["swarm-a", "swarm-b", "swarm-c"]
    assert len({c.split("SWARM_LISTEN_INTERFACES=")[1].split(":")[0] for c in nodes.values()}) == 3


def test_the_cluster_nginx_config_lists_every_web_process_and_serves_no_unauthorised_files(
    tmp_path: Path,
) -> None:
    # when: runnginx renders deploy/nginx-local.conf for two web processes
    config = runnginx.render(
        runnginx.TEMPLATE.read_text(),
        prefix=tmp_path,
        listen="127.0.0.1:8000",
        upstreams=["127.0.0.1:8010", "127.0.0.1:8011"],
        content_root=tmp_path / "content",
        static_root=tmp_path / "static",
        user="nobody",
    )

    # then: one upstream line each, every parameter filled in, and no bench-only /direct/
    assert "server 127.0.0.1:8010;" in config
    assert "server 127.0.0.1:8011;" in config
    assert "listen 127.0.0.1:8000;" in config
    assert re.search(r"@[a-z_]+@", config) is None
    assert "/direct/" not in config
    assert f"alias {tmp_path / 'static'}/;" in config
