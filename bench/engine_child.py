"""The engine side of the seeding bench ("ours"): the product's ``swarm.engine.Seeder`` in a
child process (``bench/seeding.py --serve-engine CONFIG``), driven as ``manage.py runswarm``
drives it: a ``Published`` record reconciled every 2 s with an announce URL, alerts pumped,
stats read every second."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType

import libtorrent as lt

from bench.common import HOST

# runswarm's defaults: the loop ticks every second and reconciles every SWARM_RECONCILE_SECONDS.
TICK_SECONDS = 1.0
RECONCILE_SECONDS = 2.0


def serve(config_path: Path) -> None:
    """The engine process: a Seeder driven the way runswarm's EngineLoop drives it."""
    from swarm.engine import EngineConfig, Seeder
    from swarm.seeding import Published

    config = json.loads(config_path.read_text())
    logging.basicConfig(
        filename=config["log"], level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    metainfo = Path(config["torrent"]).read_bytes()
    info = lt.torrent_info(metainfo)
    published = Published(
        content_id=1,
        infohash=str(info.info_hashes().v1),
        metainfo=metainfo,
        save_path=Path(config["save_path"]),
        files=((config["file_name"], info.total_size()),),
        # A content the platform has just hashed: added in seed mode, as after publishing.
        healthy=True,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    seeder = Seeder(
        EngineConfig(
            listen_interfaces=f"{HOST}:{config['port']}", state_dir=Path(config["state_dir"])
        )
    )
    if config["settings"]:
        seeder.session.apply_settings(config["settings"])
    next_reconcile = 0.0

    def tick(engine: Seeder) -> None:
        nonlocal next_reconcile
        now = time.monotonic()
        if now >= next_reconcile:
            engine.reconcile([published], config["announce"])
            next_reconcile = now + RECONCILE_SECONDS
        for report in engine.take_health_reports():
            logging.warning("health report: %s", report)
        # runswarm reads these every tick for the live stats and the heartbeat.
        engine.torrent_stats()
        engine.stats()

    try:
        seeder.run(stop, tick, tick_seconds=TICK_SECONDS)
    finally:
        seeder.close()
