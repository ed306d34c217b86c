"""``python manage.py runswarm``: the swarm engine process."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from types import FrameType
from typing import Any

import libtorrent as lt
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.urls import reverse

from swarm import admission, data_dir, node_seeding, revocations, services
from swarm.engine import EngineConfig, Seeder, WebRtcConfig
from swarm.models import EngineNode
from swarm.published_feed import PublishedFeed

log = logging.getLogger("swarm.engine")

# Live stats go to WebSockets every tick; the database gets them less often.
STATS_PERSIST_SECONDS = 10.0
RESUME_SAVE_SECONDS = 30.0


class EngineLoop:
    """What runswarm does on each tick: admissions, reconcile, stats, resume data, heartbeat."""

    def __init__(self, node: EngineNode, announce_url: str) -> None:
        self.node = node
        self.announce_url = announce_url
        self.next_reconcile = self.next_heartbeat = self.next_persist = 0.0
        self.next_resume_save = time.monotonic() + RESUME_SAVE_SECONDS
        self.stats = node_seeding.SwarmStats(node)
        self.published = PublishedFeed(node)

    def __call__(self, engine: Seeder) -> None:
        # A long-lived process must drop connections the database closed meanwhile.
        close_old_connections()
        now = time.monotonic()
        try:
            if now >= self.next_reconcile:
                # Only what changed since the last tick is read (and all of it now and then).
                engine.reconcile(self.published.wanted(), self.announce_url)
                self.next_reconcile = now + settings.SWARM_RECONCILE_SECONDS
        except Exception:
            log.exception("engine reconcile failed; retrying")
        try:
            # Paid torrents: let in the addresses the tracker admitted (swarm.admission). Right
            # after the reconcile, so a torrent just added gets its allow-list at once (one it
            # meets with admitted peers re-announces, in case its first reply came sooner).
            # Redis away for a moment keeps the last allow-list.
            # The other nodes are let in on every paid torrent: they fetch from each other.
            nodes = node_seeding.node_addresses(exclude=self.node)
            admitted = admission.admitted(engine.private_infohashes())
            engine.admit({infohash: found | nodes for infohash, found in admitted.items()})
        except Exception:
            log.exception("reading admissions failed; keeping the current allow-list")
        try:
            # Their WebRTC peers the WebSocket tracker refused (access ended): the allow-list
            # does not hold data channels (swarm.engine.webrtc).
            engine.cut_refused_peers(revocations.refused_peers())
        except Exception:
            log.exception("reading refused WebRTC peers failed; retrying")
        try:
            # This node's own rows only; the contents' health is derived from every live node's.
            reports = engine.take_health_reports()
            node_seeding.record_health_reports(self.node, reports)
            node_seeding.forget_dropped(self.node, engine.take_dropped())
            self.published.saw(reports)
            persist = now >= self.next_persist
            self.stats.record(engine.torrent_stats(), persist=persist)
            if persist:
                self.next_persist = now + STATS_PERSIST_SECONDS
            if now >= self.next_resume_save:
                engine.save_resume_data()
                self.next_resume_save = now + RESUME_SAVE_SECONDS
            if now >= self.next_heartbeat and engine.is_listening:
                services.record_heartbeat(self.node, engine.stats(), free_bytes())
                self.next_heartbeat = now + settings.SWARM_HEARTBEAT_SECONDS
        except Exception:
            # The database or Redis being away for a moment must not stop the seeding.
            log.exception("engine tick failed; retrying")


def free_bytes() -> int | None:
    """Free bytes of this node's data directory (None when it cannot be read)."""
    try:
        folder = data_dir.data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(folder).free
    except OSError:
        log.exception("cannot read the free space of the data directory")
        return None


def webrtc_config() -> WebRtcConfig | None:
    """How the engine meets browsers over WebRTC, from the SWARM_WEBRTC_* settings."""
    if not settings.SWARM_WEBRTC_ENABLED:
        return None
    return WebRtcConfig(
        max_offers=settings.SWARM_WEBTORRENT_MAX_OFFERS,
        stun_server=settings.SWARM_WEBTORRENT_STUN,
    )


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
                webrtc=webrtc_config(),
            )
        )
        if settings.SWARM_OUTGOING_INTERFACES:
            # Applied before any torrent is added: the first connection leaves from it already.
            outgoing: lt.settings_pack = {"outgoing_interfaces": settings.SWARM_OUTGOING_INTERFACES}
            seeder.session.apply_settings(outgoing)
        node = services.register_engine(settings.SWARM_NODE_NAME, lt.__version__)
        passkey = services.engine_passkey(node)
        announce_url = settings.SITE_URL + reverse("announce", args=[passkey.key])
        self.stdout.write(
            f"swarm engine {node.name}: libtorrent {lt.__version__}, "
            f"listening on {settings.SWARM_LISTEN_INTERFACES}"
        )
        try:
            seeder.run(stop, EngineLoop(node, announce_url), tick_seconds=1.0)
        finally:
            # Bounded: whatever resume data is not in after the grace keeps its last save.
            seeder.close(timeout=settings.SWARM_STOP_GRACE_SECONDS)
            close_old_connections()
            services.mark_stopped(node)
            self.stdout.write("swarm engine stopped")
