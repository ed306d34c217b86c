"""``python manage.py drainnode <name>``: move every content off an engine node before it stops."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from swarm import placement
from swarm.models import EngineNode


class Command(BaseCommand):
    help = (
        "Mark an engine node draining: its contents are placed on other nodes, fetched there "
        "over BitTorrent, then dropped from it. Waits until it is safe to stop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the node's name (SWARM_NODE_NAME)")
        parser.add_argument(
            "--timeout",
            type=float,
            default=3600.0,
            help="seconds to wait for the move (default 3600); 0: mark it and return",
        )
        parser.add_argument(
            "--cancel", action="store_true", help="take placements on this node again"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        try:
            if options["cancel"]:
                placement.stop_draining(name)
                self.stdout.write(f"{name}: no longer draining")
                return
            node = placement.start_draining(name)
        except EngineNode.DoesNotExist:
            raise CommandError(f"no engine node named {name!r}") from None
        self.stdout.write(f"{name}: draining")
        deadline = time.monotonic() + options["timeout"]
        last = None
        while True:
            # The beat's job does the same; running it here makes the move start now.
            placement.place_contents()
            progress = placement.drain_progress(node)
            if progress.safe_to_stop:
                self.stdout.write(f"{name}: every content is held on other nodes; safe to stop")
                return
            if progress != last:
                self.stdout.write(
                    f"{name}: {progress.placed} contents still placed here, "
                    f"{progress.seeding} still seeded here"
                )
                last = progress
            if time.monotonic() >= deadline:
                if options["timeout"] == 0:
                    return
                raise CommandError(f"{name}: not drained yet; run again to keep waiting")
            time.sleep(2.0)
