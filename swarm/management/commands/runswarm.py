"""``python manage.py runswarm``: the swarm engine process."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import libtorrent as lt
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from swarm import services
from swarm.engine import EngineConfig, Seeder


class Command(BaseCommand):
    help = "Run the libtorrent engine: seeds published content and reports a heartbeat."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        seeder = Seeder(
            EngineConfig(
                listen_interfaces=settings.SWARM_LISTEN_INTERFACES,
                state_dir=settings.SWARM_STATE_DIR,
            )
        )
        node = services.register_engine(settings.SWARM_NODE_NAME, lt.__version__)
        self.stdout.write(
            f"swarm engine {node.name}: libtorrent {lt.__version__}, "
            f"listening on {settings.SWARM_LISTEN_INTERFACES}"
        )

        def heartbeat(engine: Seeder) -> None:
            # A long-lived process must drop connections the database closed meanwhile.
            close_old_connections()
            if engine.is_listening:
                services.record_heartbeat(node, engine.stats())

        try:
            seeder.run(stop, heartbeat, tick_seconds=settings.SWARM_HEARTBEAT_SECONDS)
        finally:
            close_old_connections()
            services.mark_stopped(node)
            seeder.close()
            self.stdout.write("swarm engine stopped")
