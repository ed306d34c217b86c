"""``python manage.py runnginx``: nginx in front of several web processes, in the foreground.

``make run-cluster`` runs it from ``Procfile.cluster``: one address for the site, spread over the
web processes, as production's nginx does (deploy/nginx.conf). The configuration is
deploy/nginx-local.conf (plain HTTP, unprivileged), written into ``<data dir>/nginx/`` with one
upstream line per web process and without the bench's unauthorised ``/direct/`` location; then
this process becomes nginx (``daemon off``), so supervisor stops it with SIGTERM like the others.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

TEMPLATE = Path(settings.BASE_DIR) / "deploy" / "nginx-local.conf"
_DIRECT = re.compile(r"^[ \t]*# direct: begin\n.*?^[ \t]*# direct: end\n", re.M | re.S)
_UPSTREAM_LINE = re.compile(r"^([ \t]*)server @upstream@;\n", re.M)


def render(
    template: str,
    *,
    prefix: Path,
    listen: str,
    upstreams: list[str],
    content_root: Path,
    static_root: Path,
    user: str,
) -> str:
    """``template`` (deploy/nginx-local.conf) filled in for ``upstreams``, without ``/direct/``."""
    if not upstreams:
        raise CommandError("nginx needs at least one web process (--upstream)")
    text, removed = _DIRECT.subn("", template)
    text, repeated = _UPSTREAM_LINE.subn(
        lambda line: "".join(f"{line[1]}server {address};\n" for address in upstreams), text
    )
    if (removed, repeated) != (1, 1):
        raise CommandError(f"{TEMPLATE} lacks its /direct/ markers or its upstream line")
    parameters = {
        "prefix": str(prefix),
        "listen": listen,
        "upstream": ", ".join(upstreams),  # what is left: the comment that describes it
        # nginx's alias takes a folder with its trailing slash.
        "content_root": f"{content_root}/",
        "static_root": f"{static_root}/",
        "user": user,
    }
    return re.sub(r"@([a-z_]+)@", lambda match: parameters[match[1]], text)


class Command(BaseCommand):
    help = "Run nginx in the foreground in front of the given web processes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--listen",
            default=f"{settings.WEB_HOST}:{settings.WEB_PORT}",
            help="address:port of the site (default WEB_HOST:WEB_PORT)",
        )
        parser.add_argument(
            "--upstream",
            action="append",
            required=True,
            help="address:port of a web process (repeat it for each)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(binary, os.X_OK):
            raise CommandError("nginx is not installed (make system-packages installs it)")
        prefix = Path(settings.DATA_DIR) / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        config = prefix / "nginx.conf"
        config.write_text(
            render(
                TEMPLATE.read_text(),
                prefix=prefix,
                listen=options["listen"],
                upstreams=options["upstream"],
                content_root=Path(settings.CONTENT_ROOT),
                static_root=Path(settings.STATIC_ROOT),
                # Workers take this user only when nginx starts as root; otherwise it is ignored.
                user="root" if os.geteuid() == 0 else getpass.getuser(),
            )
        )
        self.stdout.write(f"nginx on {options['listen']} -> {', '.join(options['upstream'])}")
        self.stdout.flush()
        # This process becomes nginx, so supervisor's signals reach nginx itself.
        os.execv(binary, [binary, "-p", str(prefix), "-c", str(config), "-e", "stderr"])  # noqa: S606
