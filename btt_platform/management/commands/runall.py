"""``python manage.py runall``: migrate, collect static files, run every Procfile process under
supervisor.

The Procfile stays the list of processes; this command writes a supervisord configuration from
it (``<data dir>/supervisor/supervisord.conf``) and runs supervisord in the foreground. A process
that exits is started again at once; one that keeps exiting within STARTSECS is started again
after 1, 2, 3 ... seconds, up to STARTRETRIES times (then it is FATAL: ``supervisorctl -c
<conf> start <name>`` tries again). The other processes keep running meanwhile.

Order: the embedded Redis (when REDIS_URL is unset) is up before any process starts (importing
the settings starts it), is started again if it dies meanwhile (checked every
REDIS_WATCH_SECONDS), and is stopped last, with a save. Ctrl-C (or SIGTERM) stops every
process (SIGTERM to each process group, SIGKILL after STOPWAITSECS), then Redis.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from btt_platform import embedded

# A process must stay up this long to count as started; quicker exits back off.
STARTSECS = 5
# Back-off of 1, 2 ... STARTRETRIES seconds between quick exits: about half an hour in all.
STARTRETRIES = 60
# SIGTERM, then SIGKILL after this long (the engine saves resume data on its way out).
STOPWAITSECS = 30
# How often the embedded Redis is checked, and started again if it died (it is no supervisor
# program: the settings of every process start it, and it must outlive them all).
REDIS_WATCH_SECONDS = 1.0

_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def parse_procfile(text: str) -> dict[str, str]:
    """``name: command`` lines, in order; blank lines and ``#`` comments are skipped."""
    processes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _PROCFILE_LINE.match(line)
        if match is None:
            raise CommandError(f"Procfile line {number} is not 'name: command': {line!r}")
        processes[match[1]] = match[2].strip()
    return processes


def _ini(value: str) -> str:
    # supervisord's configuration file interpolates %(name)s expressions.
    return value.replace("%", "%%")


def supervisord_conf(
    processes: dict[str, str], folder: Path, cwd: Path, log_dir: Path | None = None
) -> str:
    """A supervisord configuration running ``processes`` (Procfile commands, through /bin/sh
    for their ``${VAR:-default}`` expansions) with their output on supervisord's own, or each
    appended to ``log_dir/<name>.log``.

    Through supervisord, a process's output passes a pipe that supervisord drains: a
    supervisord that is stopped or starved (SIGSTOP, a debugger, a frozen terminal it writes
    to) lets that pipe fill, and every process then blocks on its next log line, the web
    process's event loop included. Written to a file by the process itself, nothing stands
    between a process and its log."""
    lines = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={_ini(str(folder / 'supervisord.log'))}",
        f"pidfile={_ini(str(folder / 'supervisord.pid'))}",
        f"childlogdir={_ini(str(folder))}",
        "loglevel=info",
        "",
        "[unix_http_server]",
        f"file={_ini(str(folder / 'supervisor.sock'))}",
        "chmod=0700",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_ini(str(folder / 'supervisor.sock'))}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
    ]
    for name, command in processes.items():
        redirect = "" if log_dir is None else f" >>{shlex.quote(str(log_dir / f'{name}.log'))} 2>&1"
        shell = shlex.join(["/bin/sh", "-c", f"exec {command}{redirect}"])
        lines += [
            f"[program:{name}]",
            f"command={_ini(shell)}",
            f"directory={_ini(str(cwd))}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={STARTSECS}",
            f"startretries={STARTRETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOPWAITSECS}",
            # The whole group: uvicorn's and celery's children go with them.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/fd/1",
            "stdout_logfile_maxbytes=0",
            "",
        ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Set up the database and static files, then run every Procfile process, supervised."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--procfile", default=str(Path(settings.BASE_DIR) / "Procfile"))
        parser.add_argument("--only", help="comma-separated process names to run")
        parser.add_argument(
            "--no-setup", action="store_true", help="skip migrate and collectstatic"
        )
        parser.add_argument(
            "--log-dir",
            help="append each process's output to <dir>/<name>.log instead of this terminal",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_setup"]:
            call_command("migrate", interactive=False, verbosity=1)
            call_command("collectstatic", interactive=False, verbosity=0)
        procfile = parse_procfile(Path(options["procfile"]).read_text())
        only = {n.strip() for n in (options["only"] or "").split(",") if n.strip()}
        skip = set()
        if settings.TRON_NETWORK != "devnet":
            skip.add("devnet")  # a local chain only stands in for TRON in development
        processes = {
            name: command
            for name, command in procfile.items()
            if (not only or name in only) and name not in skip
        }

        if settings.EMBEDDED_REDIS:
            embedded.persist(settings.DATA_DIR)  # up already: the settings started it
        folder = Path(settings.DATA_DIR) / "supervisor"
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "supervisord.conf"
        log_dir = Path(options["log_dir"]).resolve() if options["log_dir"] else None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        conf.write_text(supervisord_conf(processes, folder, Path(settings.BASE_DIR), log_dir))

        env = dict(os.environ)
        # Children find this virtualenv's python, celery and uvicorn first.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")

        self.stdout.write(f"site: {settings.SITE_URL}   health: {settings.SITE_URL}/healthz")
        self.stdout.write(f"processes: supervisorctl -c {conf} status")
        self.stdout.flush()
        # Its own session: Ctrl-C reaches this command only, which stops supervisord in order
        # (the terminal's SIGINT would otherwise hit every process at once).
        manager = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
            env=env,
            start_new_session=True,
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            if manager.poll() is None:
                manager.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            returncode = self._supervise(manager)
        finally:
            if manager.poll() is None:
                manager.terminate()
                manager.wait()
            if settings.EMBEDDED_REDIS:
                embedded.stop(settings.DATA_DIR)
        sys.exit(returncode)

    def _supervise(self, manager: subprocess.Popen[bytes]) -> int:
        """Wait for supervisord to exit, keeping the embedded Redis up meanwhile: without this
        a Redis killed -9 stayed down, and every queue, cache and event with it."""
        while True:
            try:
                return manager.wait(timeout=REDIS_WATCH_SECONDS)
            except subprocess.TimeoutExpired:
                if not settings.EMBEDDED_REDIS:
                    continue
            try:
                if embedded.revive(settings.DATA_DIR):
                    self.stdout.write("the embedded Redis had stopped: started it again")
                    self.stdout.flush()
            except Exception as error:  # tried again a second later; supervisord goes on
                self.stderr.write(f"starting the embedded Redis again failed: {error}")
