"""``python manage.py tron_devnet``: the local TRON node for development and tests."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tron_devnet.api.app import DevnetApp
from tron_devnet.chain import Chain
from tron_devnet.chain.params import ChainConfig

log = logging.getLogger("tron_devnet")


def _default_bind() -> tuple[str, int]:
    # The devnet listens where the platform's TRON_API_URL points when that is the devnet.
    url = urlsplit(settings.TRON_API_URL)
    if settings.TRON_NETWORK == "devnet" and url.hostname:
        return url.hostname, url.port or 80
    return "127.0.0.1", 8090


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
            default=settings.TRON_DEVNET_STATE,
            help="the chain's SQLite file (created with a genesis block when missing)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = ChainConfig(
            block_seconds=settings.TRON_DEVNET_BLOCK_SECONDS,
            solidify_blocks=settings.TRON_DEVNET_SOLIDIFY_BLOCKS,
            tapos_blocks=settings.TRON_DEVNET_TAPOS_BLOCKS,
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
