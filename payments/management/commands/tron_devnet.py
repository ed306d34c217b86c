"""``python manage.py tron_devnet``: the local TRON node for development and tests."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from btt_platform.env import env_int, env_path
from payments.devnet.api import DevnetApp
from payments.devnet.chain import Chain, ChainConfig

log = logging.getLogger("payments.devnet")


def _default_bind() -> tuple[str, int]:
    # The devnet listens where the platform's TRON_API_URL points when that is the devnet.
    url = urlsplit(settings.TRON_API_URL)
    if settings.TRON_NETWORK == "devnet" and url.hostname:
        return url.hostname, url.port or 80
    return "127.0.0.1", 8090


def _block_seconds() -> float:
    raw = os.environ.get("TRON_DEVNET_BLOCK_SECONDS", "3").strip()
    try:
        value = float(raw)
    except ValueError:
        raise CommandError(f"TRON_DEVNET_BLOCK_SECONDS must be a number, got {raw!r}") from None
    if value < 0.1:
        raise CommandError("TRON_DEVNET_BLOCK_SECONDS must be at least 0.1")
    return value


class Command(BaseCommand):
    help = "Run the local TRON devnet (java-tron's HTTP API subset, blocks, faucet)."
    # A standalone node: the web project's checks (URLs, the API) are not its business and
    # would only slow its start.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        host, port = _default_bind()
        parser.add_argument("--host", default=host)
        parser.add_argument("--port", type=int, default=port)
        parser.add_argument(
            "--state",
            type=Path,
            default=env_path("TRON_DEVNET_STATE", Path(settings.DATA_DIR) / "tron-devnet.sqlite3"),
            help="the chain's SQLite file (created with a genesis block when missing)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = ChainConfig(
            block_seconds=_block_seconds(),
            solidify_blocks=env_int("TRON_DEVNET_SOLIDIFY_BLOCKS", 19, minimum=0),
            tapos_blocks=env_int("TRON_DEVNET_TAPOS_BLOCKS", 65536, minimum=1),
        )
        chain = Chain(options["state"], config)
        head = chain.head()
        log.info(
            "TRON devnet on http://%s:%s, state %s, head block %s",
            options["host"],
            options["port"],
            options["state"],
            head.num,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                DevnetApp(chain),
                host=options["host"],
                port=options["port"],
                lifespan="on",
                log_level="warning",
                access_log=False,
            )
        )
        server.run()
