"""``python manage.py watch_chain``: the chain watcher process (``payments.chain.watcher``)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from payments.chain.watcher import Watcher

log = logging.getLogger("payments.watcher")


class Command(BaseCommand):
    help = (
        "Watch the TRON chain at TRON_API_URL: credit invoice payments in new blocks "
        "(processing) and settle them once their blocks are solidified."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from-block",
            type=int,
            help="scan from this block on, whatever was scanned before (safe: crediting is "
            "idempotent); by default from where the last run stopped",
        )
        parser.add_argument(
            "--until-caught-up",
            action="store_true",
            help="exit once every block the node has is scanned, instead of following the head",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            # The block being applied commits or rolls back as a whole; then the loop ends.
            log.info("stopping (signal %s)", signum)
            stop.set()

        # httpx logs every request at INFO: several per block, drowning what matters.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        watcher = Watcher.from_settings()
        if options["from_block"] is not None:
            watcher.start_from(max(options["from_block"], 0))
        log.info(
            "watching %s through %s%s",
            settings.TRON_NETWORK,
            settings.TRON_API_URL,
            " (with an API key)" if settings.TRON_API_KEY else "",
        )
        watcher.serve(stop, until_caught_up=options["until_caught_up"])
        log.info("stopped: %s; %s node requests", watcher.stats, watcher.node.requests)
