"""The libtorrent session: ``swarm.engine.Seeder`` runs inside ``manage.py runswarm`` only.

One session per node, with seedbox settings; one loop pumps alerts and reports a heartbeat.
Content reconciliation, resume data and per-content stats join here with ingest.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import libtorrent as lt

from swarm.services import EngineStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    listen_interfaces: str
    state_dir: Path


def seedbox_settings(listen_interfaces: str) -> lt.settings_pack:
    """libtorrent settings for a dedicated seeding server (FIELD-NOTES "libtorrent")."""
    pack = lt.high_performance_seed()
    pack.update(
        {
            "listen_interfaces": listen_interfaces,
            # A server (and every test) must not reach out to public DHT, LSD, UPnP or STUN.
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "dht_bootstrap_nodes": "",
            "webtorrent_stun_server": "",
            # Many fans share one NAT address; test clients all sit on 127.0.0.1.
            "allow_multiple_connections_per_ip": True,
            # The default keeps only 5 seeds active; a seeding server seeds everything.
            "active_seeds": -1,
            "active_limit": -1,
            "user_agent": f"btt-creators/{lt.__version__}",
            "alert_mask": lt.alert_category.error
            | lt.alert_category.status
            | lt.alert_category.storage,
        }
    )
    return pack


class Seeder:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        # session_params: nothing starts listening before the settings apply.
        self.session = lt.session(lt.session_params(seedbox_settings(config.listen_interfaces)))
        # libtorrent writes a byte to this socket when alerts are waiting; set_alert_notify's
        # callback runs on libtorrent's thread and can deadlock against the GIL.
        self._wake_read, wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write = wake_write
        self.session.set_alert_fd(wake_write.fileno())
        self.listen_addresses: list[str] = []

    def stats(self) -> EngineStats:
        handles = self.session.get_torrents()
        statuses = [h.status() for h in handles]
        return EngineStats(
            listen_address=",".join(self.listen_addresses),
            torrents=len(handles),
            peers=sum(s.num_peers for s in statuses),
            upload_rate=sum(s.upload_payload_rate for s in statuses),
        )

    @property
    def is_listening(self) -> bool:
        return bool(self.session.is_listening()) and bool(self.listen_addresses)

    def wait(self, timeout: float) -> None:
        """Sleep until alerts arrive or ``timeout`` passes."""
        ready, _, _ = select.select([self._wake_read], [], [], timeout)
        if ready:
            try:
                while self._wake_read.recv(4096):
                    pass
            except BlockingIOError:
                pass

    def pump_alerts(self) -> None:
        # Alert objects die at the next pop_alerts(): read what is needed right here.
        for alert in self.session.pop_alerts():
            if isinstance(alert, lt.listen_succeeded_alert):
                address = f"{alert.address}:{alert.port}"
                if (
                    alert.socket_type == lt.socket_type_t.tcp
                    and address not in self.listen_addresses
                ):
                    self.listen_addresses.append(address)
                    log.info("listening on %s", address)
            elif isinstance(alert, lt.listen_failed_alert):
                log.error("cannot listen on %s:%s: %s", alert.address, alert.port, alert.message())
            elif alert.category() & lt.alert_category.error:
                log.warning("%s", alert.message())

    def run(
        self, stop: threading.Event, on_tick: Callable[[Seeder], None], tick_seconds: float
    ) -> None:
        """Pump alerts until ``stop`` is set, calling ``on_tick(self)`` every ``tick_seconds``."""
        next_tick = 0.0
        while not stop.is_set():
            self.wait(timeout=min(0.5, tick_seconds))
            self.pump_alerts()
            now = time.monotonic()
            if now >= next_tick:
                on_tick(self)
                next_tick = now + tick_seconds

    def close(self) -> None:
        self.session.set_alert_fd(-1)
        self._wake_write.close()
        self._wake_read.close()
        self.session.pause()
