"""A takedown while a fan's real BitTorrent client is mid-download, and the restore after it.

The real ``manage.py runswarm`` seeds the content; the fan's own libtorrent session fetches it
from the engine and from the web seed at once (the .torrent's ``url-list``) until a moderator
takes it down. Within 10 seconds both sources stop, the tracker answers the client with the
reason, and the web seed answers 410 without a byte; a restore lets the client finish.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import libtorrent as lt

from accounts.models import User
from btt_platform import fastpath
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from staff.models import AuditEntry
from swarm import services, torrents
from swarm.models import Content, EngineNode
from swarm.webseed.tokens import webseed_url_for
from tests.fixtures.content import Site
from tests.fixtures.personas import staff_with_role
from tests.fixtures.processes import Child, free_port, wait_for
from tests.swarm.clients import client_settings

KIB = 1024
PIECE = 256 * KIB
# Slow enough that the download is far from done when the takedown lands (32 pieces, 8 MiB, at
# 160 KiB/s take about 50 s), fast enough that both sources are seen sending within seconds.
WEBSEED_RATE = 64 * KIB
CLIENT_RATE = 160 * KIB
STOP_DEADLINE = 10.0  # the acceptance criterion: seconds from takedown to silence
REASON = "Copyright claim 2026-118"


class Fan:
    """The fan's libtorrent session with the torrent as the fan downloads it: passkey in the
    announce URL, the fan's own web-seed URL in url-list."""

    def __init__(self, content: Content, user: User, folder: Path) -> None:
        self.session = lt.session(
            lt.session_params(
                client_settings(
                    free_port(),
                    alert_mask=lt.alert_category.status
                    | lt.alert_category.error
                    | lt.alert_category.tracker
                    | lt.alert_category.peer,
                )
            )
        )
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrents.personal_metainfo(content, user))
        params.save_path = str(folder)
        params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        self.folder = folder
        self.handle = self.session.add_torrent(params)
        self.handle.set_download_limit(CLIENT_RATE)
        self.tracker_alerts: list[str] = []

    def pump(self) -> lt.torrent_status:
        for alert in self.session.pop_alerts():
            if isinstance(alert, lt.tracker_alert):
                self.tracker_alerts.append(f"{type(alert).__name__}: {alert.message()}")
        return self.handle.status()

    def received_by_source(self) -> dict[str, int]:
        """Payload bytes received so far on the open connections: 'engine' and 'webseed'."""
        self.pump()
        totals = {"engine": 0, "webseed": 0}
        for peer in self.handle.get_peer_info():
            web = peer.connection_type in (lt.peer_info.web_seed, lt.peer_info.http_seed)
            totals["webseed" if web else "engine"] += peer.total_download
        return totals

    def connections(self) -> list[str]:
        """The open connections, each with its kind, address and bytes received."""
        self.pump()
        return [
            f"{'web seed' if peer.connection_type != lt.peer_info.standard_bittorrent else 'peer'}"
            f" {peer.ip[0]}:{peer.ip[1]} {peer.total_download} B"
            for peer in self.handle.get_peer_info()
        ]

    def reannounce(self) -> None:
        """What a user's "update tracker" does: announce now, whatever the interval."""
        self.handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)

    def downloaded(self) -> int:
        return int(self.pump().total_payload_download)


def quiet_for(fan: Fan, seconds: float) -> bool:
    """Nothing arrived for ``seconds`` and no source is connected."""
    before = fan.downloaded()
    time.sleep(seconds)
    return fan.downloaded() == before and not fan.handle.get_peer_info()


def test_a_takedown_mid_download_stops_engine_web_seed_and_tracker_and_a_restore_finishes_it(
    creator: Creator,
    fan: User,
    site: Site,
    settings: object,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a paid film the fan bought, seeded by the engine and by the web seed (paced, so a
    # web-seed response is still running when the takedown lands)
    film = os.urandom(32 * PIECE)
    content = publish(creator, {"film.mkv": film}, title="Film", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    settings.WEBSEED_RATE_LIMIT = WEBSEED_RATE  # type: ignore[attr-defined]
    fastpath.clear()
    engine = site_engine()
    moderator = staff_with_role("moderator", "moderator")
    wait_for(
        lambda: EngineNode.objects.get(name=engine.name).torrents == 1, what="the engine to seed"
    )
    fan_client = Fan(content, fan, tmp_path / "fan")
    web_seed_url = webseed_url_for(fan, content) + "film.mkv"

    # and both sources sending to the fan
    def both_sending() -> bool:
        received = fan_client.received_by_source()
        return received["engine"] > 0 and received["webseed"] > 0

    wait_for(both_sending, timeout=60, what="bytes from both the engine and the web seed")

    # when: a moderator takes the film down
    taken_down_at = time.strftime("%H:%M:%S")
    services.take_down_content(moderator, content.pk, REASON)
    # then: within 10 s the client receives nothing more from anyone
    try:
        wait_for(
            lambda: quiet_for(fan_client, 2.0),
            timeout=STOP_DEADLINE,
            what="the client to stop receiving",
        )
    except AssertionError:
        # Which source went on, and whether the engine had dropped the torrent by then.
        stopped = [line for line in engine.output().splitlines() if "stopped seeding" in line]
        raise AssertionError(
            f"still receiving {STOP_DEADLINE:.0f} s after the takedown at {taken_down_at} from "
            f"{fan_client.connections()}; the engine: {stopped or 'seeding still'}"
        ) from None
    stopped_at = fan_client.downloaded()
    assert 0 < stopped_at < len(film)
    assert f"stopped seeding {content.infohash} (unpublished" in engine.output()
    # the web seed answers 410 with no bytes, to a new request as to the client's retries
    gone = httpx.get(web_seed_url, headers={"Range": "bytes=0-1023"})
    assert (gone.status_code, gone.content) == (410, b"")
    # and the tracker refuses the client with the reason
    fan_client.reannounce()

    def refused() -> bool:
        fan_client.pump()
        return any(f"unregistered torrent: {REASON}" in e for e in fan_client.tracker_alerts)

    try:
        wait_for(refused, timeout=STOP_DEADLINE, what="the tracker's refusal")
    except AssertionError:
        raise AssertionError(f"tracker alerts: {fan_client.tracker_alerts}") from None
    assert quiet_for(fan_client, 3.0)
    assert fan_client.downloaded() == stopped_at

    # when: the takedown is undone
    services.restore_content(moderator, content.pk)
    fan_client.handle.set_download_limit(0)
    fastpath.clear()

    # then: the engine seeds it again and the client finishes, byte for byte
    next_announce = 0.0

    def finished() -> bool:
        nonlocal next_announce
        if fan_client.pump().is_seeding:
            return True
        if not fan_client.handle.get_peer_info() and time.monotonic() >= next_announce:
            fan_client.reannounce()  # until the tracker hands out the engine again
            next_announce = time.monotonic() + 2.0
        return False

    wait_for(finished, timeout=120, what="the download to finish after the restore")
    del fan_client.session  # closes the files
    assert (tmp_path / "fan" / "film.mkv").read_bytes() == film
    assert list(
        AuditEntry.objects.order_by("created_at", "pk").values_list("action", "reason")
    ) == [(AuditEntry.Action.TAKEDOWN, REASON), (AuditEntry.Action.RESTORE, "")]
