"""``python manage.py runall``: migrate, collect static files, run every Procfile process.

Ctrl-C (or SIGTERM) stops them all; the embedded Redis, when used, stops with them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from honcho.environ import parse_procfile
from honcho.manager import Manager

from btt_platform import embedded


class Command(BaseCommand):
    help = "Set up the database and static files, then run every process of the Procfile."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--procfile", default=str(Path(settings.BASE_DIR) / "Procfile"))
        parser.add_argument("--only", help="comma-separated process names to run")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=1)
        call_command("collectstatic", interactive=False, verbosity=0)
        procfile = parse_procfile(Path(options["procfile"]).read_text())
        only = {n.strip() for n in (options["only"] or "").split(",") if n.strip()}

        env = dict(os.environ)
        # Children find this virtualenv's python, celery and uvicorn first.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")

        skip = set()
        if settings.TRON_NETWORK != "devnet":
            skip.add("devnet")  # a local chain only stands in for TRON in development

        manager = Manager()
        for name, command in procfile.processes.items():
            if (not only or name in only) and name not in skip:
                manager.add_process(name, command, env=env, cwd=str(settings.BASE_DIR))
        self.stdout.write(f"site: {settings.SITE_URL}   health: {settings.SITE_URL}/healthz")
        try:
            manager.loop()
        finally:
            if settings.EMBEDDED_REDIS:
                embedded.stop(settings.DATA_DIR)
        sys.exit(manager.returncode)
