"""The Seeder: one libtorrent session, reconciled with what the database says is published.

One loop pumps alerts, reconciles the session with the published set (seed mode for freshly
hashed files, resume data otherwise; what is placed on this node and missing is fetched from the
other nodes, every piece verified), saves resume data (``resume``), re-announces what failed
(``announces``), and leaves health reports (``health``) and stats for ``runswarm`` to write. Paid
torrents obey the admission filter (``ip_filter``).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import libtorrent as lt

from swarm.engine import webrtc
from swarm.engine.announces import FailedAnnounces
from swarm.engine.health import Health, file_problem
from swarm.engine.ip_filter import Admissions
from swarm.engine.resume import ResumeStore
from swarm.engine.session_settings import seedbox_settings
from swarm.engine.torrent_params import configure
from swarm.engine.webrtc import WebRtcConfig
from swarm.seeding import EngineStats, HealthReport, Published, TorrentStats

# Every module of the engine logs as "swarm.engine", the name runswarm's output is read by.
log = logging.getLogger("swarm.engine")

_REANNOUNCE_NOW = lt.reannounce_flags_t.ignore_min_interval


def _is_http(tracker_url: str) -> bool:
    """Whether the alert is about the HTTP tracker (the one FailedAnnounces watches), not the
    WebSocket tracker of WebRTC peers."""
    return tracker_url.startswith(("http://", "https://"))


@dataclass(frozen=True)
class EngineConfig:
    listen_interfaces: str
    state_dir: Path
    # None: the engine seeds to BitTorrent clients only, not to browsers over WebRTC.
    webrtc: WebRtcConfig | None = None


@dataclass
class _Seeding:
    item: Published
    handle: lt.torrent_handle
    # True while a re-added unhealthy content is being checked; healthy once it seeds.
    verifying: bool = False
    # A paid torrent (private flag in its info dict): served to admitted addresses only.
    private: bool = True
    # Downloading from the other nodes (a content placed here that this node lacked).
    fetching: bool = False

    @property
    def content_id(self) -> int:
        return self.item.content_id


class Seeder:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.resume = ResumeStore(config.state_dir)
        # session_params: nothing starts listening before the settings apply.
        settings = seedbox_settings(config.listen_interfaces, config.webrtc)
        self.session = lt.session(lt.session_params(settings))
        # libtorrent writes a byte to this socket when alerts are waiting; set_alert_notify's
        # callback runs on libtorrent's thread and can deadlock against the GIL.
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self.session.set_alert_fd(self._wake_write.fileno())
        self.admissions = Admissions(self.session)
        self.refused_peers = webrtc.RefusedPeers()
        self.failed_announces = FailedAnnounces()
        self.health = Health()
        self.listen_addresses: list[str] = []
        self._seeding: dict[str, _Seeding] = {}  # infohash -> entry
        self._dropped: list[int] = []  # content ids no longer wanted here, not yet taken

    # --- status ---------------------------------------------------------------------------

    @property
    def is_listening(self) -> bool:
        return bool(self.session.is_listening()) and bool(self.listen_addresses)

    @property
    def listen_port(self) -> int:
        return int(self.session.listen_port())

    def infohashes(self) -> set[str]:
        return set(self._seeding)

    def private_infohashes(self) -> set[str]:
        """The paid torrents being seeded: those served to admitted addresses only."""
        return {infohash for infohash, entry in self._seeding.items() if entry.private}

    def stats(self) -> EngineStats:
        statuses = [entry.handle.status() for entry in self._seeding.values()]
        return EngineStats(
            listen_address=",".join(self.listen_addresses),
            torrents=len(statuses),
            peers=sum(s.num_peers for s in statuses),
            upload_rate=sum(s.upload_payload_rate for s in statuses),
        )

    def torrent_stats(self) -> list[TorrentStats]:
        result = []
        for entry in self._seeding.values():
            status = entry.handle.status()
            result.append(
                TorrentStats(
                    content_id=entry.content_id,
                    peers=status.num_peers,
                    # Connected seeds, or the tracker's count when it is larger.
                    seeds=max(status.num_seeds, status.num_complete),
                    upload_rate=status.upload_payload_rate,
                    bytes_uploaded=status.all_time_upload,
                    bytes_on_disk=status.total_wanted_done,
                )
            )
        return result

    def take_health_reports(self) -> list[HealthReport]:
        return self.health.take()

    def take_dropped(self) -> list[int]:
        """The contents this session let go of since the last call (no longer wanted here)."""
        dropped, self._dropped = self._dropped, []
        return dropped

    # --- admission ------------------------------------------------------------------------

    def admit(self, admitted: Mapping[str, frozenset[str]]) -> None:
        """Serve paid torrents to exactly the ``admitted`` addresses (per infohash).

        A torrent that gained an address re-announces, so that the engine connects to the new
        peer at once: the peer's own first attempt may have come before the filter let it in.
        """
        for infohash in self.admissions.update(admitted):
            entry = self._seeding.get(infohash)
            if entry is not None:
                entry.handle.force_reannounce(0, -1, _REANNOUNCE_NOW)
                log.info("content %s: re-announcing to meet newly admitted peers", entry.content_id)

    @property
    def allowed_addresses(self) -> frozenset[str]:
        return self.admissions.allowed

    def cut_refused_peers(self, refused: Mapping[str, frozenset[str]]) -> None:
        """Drop the connections of each paid torrent whose WebSocket swarm refused a peer since
        the last call (``refused``: peer ids per infohash): its data channels, which the
        ip_filter does not hold, with the rest (``webrtc``)."""
        for infohash in self.refused_peers.news(refused):
            entry = self._seeding.get(infohash)
            if entry is not None and entry.private and webrtc.drop_connections(entry.handle):
                log.info(
                    "content %s: dropped its connections, a peer was refused", entry.content_id
                )

    # --- announces ------------------------------------------------------------------------

    def _announce_failed(self, handle: lt.torrent_handle, message: str) -> None:
        found = self._entry_for(handle)
        if found is not None:
            self.failed_announces.failed(found[0], message)

    def _announced(self, handle: lt.torrent_handle) -> None:
        found = self._entry_for(handle)
        if found is None:
            return
        for infohash in self.failed_announces.succeeded(found[0]):
            self._seeding[infohash].handle.force_reannounce(0, -1, _REANNOUNCE_NOW)

    def retry_announces(self) -> None:
        """While announces fail, re-announce one failed torrent per ANNOUNCE_PROBE_SECONDS."""
        infohash = self.failed_announces.due(time.monotonic())
        if infohash is not None:
            self._seeding[infohash].handle.force_reannounce(0, -1, _REANNOUNCE_NOW)

    # --- reconciliation -------------------------------------------------------------------

    def reconcile(self, wanted: list[Published], announce_url: str) -> None:
        """Make the session seed exactly ``wanted``; report contents whose files are bad.

        Torrents added now announce to the HTTP tracker's ``announce_url`` and, with WebRTC
        on, to the WebSocket tracker with the same passkey (``webrtc``). A content placed here
        (``fetch``) whose files are missing or not known good is fetched from the other nodes
        instead of reported missing."""
        by_hash = {item.infohash: item for item in wanted}
        for infohash in list(self._seeding):
            if infohash not in by_hash:
                self._dropped.append(self._seeding[infohash].content_id)
                self._remove(infohash, delete_resume=True)
                log.info("stopped seeding %s (unpublished, or placed elsewhere)", infohash)
        # The database is told again whenever it disagrees with the engine: a report lost to
        # a failed tick (database away for a moment) is not lost for good.
        for item in wanted:
            problem = file_problem(item)
            entry = self._seeding.get(item.infohash)
            if entry is not None:
                if entry.fetching:
                    continue  # libtorrent is writing its files; judged once complete
                if problem:
                    # Placed here: fetched again, its saved state (which vouches for pieces
                    # gone now) forgotten.
                    self._remove(item.infohash, delete_resume=item.fetch)
                    if item.fetch:
                        self._fetch(item, announce_url)
                        continue
                    self.health.fail(item, problem)
                elif not item.healthy and not entry.verifying:
                    self.health.report(item.content_id, "seeding")
                continue
            if item.fetch and (problem or not item.healthy):
                # A fetch that failed (a disk error) is tried again once its files change.
                judged = self.health.judged(item)
                if judged is None or judged.state != "error":
                    self._fetch(item, announce_url)
                continue
            if problem:
                if not item.optional:
                    self.health.fail(item, problem)
                continue
            failure = self.health.judged(item)
            if failure is not None:
                # Already judged these exact files; wait for them to change.
                if item.healthy:
                    self.health.report(item.content_id, failure.state, failure.detail)
                continue
            self._add(item, announce_url)

    def _add(self, item: Published, announce_url: str) -> None:
        resume = self.resume.get(item.infohash)
        params = None
        if not item.healthy:
            # Its files were missing or wrong: saved state vouches for pieces that may have
            # changed since, so this content gets a full hash check before it seeds again.
            self.resume.forget(item.infohash)
        elif resume is not None:
            try:
                params = lt.read_resume_data(resume)
            except RuntimeError as exc:  # corrupt resume file: seed as freshly published
                log.warning("ignoring resume data for %s: %s", item.infohash, exc)
            else:
                # libtorrent takes the pieces from the saved state: no file is re-hashed.
                log.info("resuming content %s from saved state", item.content_id)
        verifying = not item.healthy
        from_scratch = params is None
        if params is None:
            params = lt.add_torrent_params()
            params.ti = lt.torrent_info(item.metainfo)
            if item.healthy:
                # The platform hashed these files itself: no initial check; libtorrent
                # verifies each piece the first time it sends it.
                params.flags |= lt.torrent_flags.seed_mode
        # A seed fetches from nobody: never download (upload_mode) if a check finds pieces
        # missing.
        private = configure(params, item, announce_url, self.config.webrtc)
        params.flags |= lt.torrent_flags.upload_mode
        handle = self.session.add_torrent(params)
        self._seeding[item.infohash] = _Seeding(item, handle, verifying=verifying, private=private)
        self.health.forget(item.content_id)
        # This node's row says what it does with the content from the start: the database
        # derives the content's health from every live node's row (swarm.node_seeding).
        self.health.report(item.content_id, "checking" if verifying else "seeding")
        if from_scratch and not verifying:
            # Saved now, not at the next periodic save: an engine killed a moment later still
            # restarts without hashing anything. (A content being checked is saved once the
            # check passed, so a kill meanwhile checks it again.)
            self._ask_resume(item.infohash, handle)
        log.info("seeding content %s (%s)", item.content_id, item.infohash)

    def _fetch(self, item: Published, announce_url: str) -> None:
        """Download ``item`` (placed here) from the nodes that have it, into its save path.

        libtorrent checks what is already on disk (or trusts the resume data of a fetch cut
        short) and verifies every piece it receives: the copy is byte-identical by
        construction. It turns into a seed once complete (``_fetched``)."""
        params = None
        resume = self.resume.get(item.infohash)
        if resume is not None:
            try:
                params = lt.read_resume_data(resume)
            except RuntimeError as exc:
                log.warning("ignoring resume data for %s: %s", item.infohash, exc)
        if params is None:
            params = lt.add_torrent_params()
            params.ti = lt.torrent_info(item.metainfo)
        private = configure(params, item, announce_url, self.config.webrtc)
        params.flags &= ~(lt.torrent_flags.upload_mode | lt.torrent_flags.seed_mode)
        item.save_path.mkdir(parents=True, exist_ok=True)
        handle = self.session.add_torrent(params)
        self._seeding[item.infohash] = _Seeding(item, handle, private=private, fetching=True)
        self.health.forget(item.content_id)
        self.health.report(item.content_id, "fetching", "no complete copy on this node yet")
        log.info("fetching content %s (%s) from the other nodes", item.content_id, item.infohash)

    def _fetched(self, handle: lt.torrent_handle) -> None:
        found = self._entry_for(handle)
        if found is None or not found[1].fetching:
            return
        infohash, entry = found
        entry.fetching = False
        self.health.report(entry.content_id, "seeding")
        self._ask_resume(infohash, handle)
        log.info("content %s fetched: every piece verified, seeding", entry.content_id)

    def _remove(self, infohash: str, *, delete_resume: bool) -> None:
        entry = self._seeding.pop(infohash)
        self.failed_announces.discard(infohash)
        self.resume.pending.discard(infohash)
        self.session.remove_torrent(entry.handle)
        if delete_resume:
            self.resume.forget(infohash)

    def _entry_for(self, handle: lt.torrent_handle) -> tuple[str, _Seeding] | None:
        for infohash, entry in self._seeding.items():
            if entry.handle == handle:
                return infohash, entry
        return None

    # --- resume data ----------------------------------------------------------------------

    def save_resume_data(self, *, everything: bool = False) -> None:
        """Ask for resume data of torrents that changed (or all); written in one batch once the
        alerts are in (``flush_resume_data``)."""
        for infohash, entry in self._seeding.items():
            # (One being checked is saved once the check passed.)
            unsaved = infohash not in self.resume and not entry.verifying
            if everything or unsaved or entry.handle.need_save_resume_data():
                self._ask_resume(infohash, entry.handle)

    def _ask_resume(self, infohash: str, handle: lt.torrent_handle) -> None:
        handle.save_resume_data(lt.save_resume_flags_t.save_info_dict)
        self.resume.pending.add(infohash)

    def flush_resume_data(self, *, force: bool = False) -> None:
        """Write the saved state if anything changed (see ``ResumeStore.flush``)."""
        self.resume.flush(force=force)

    # --- alerts ---------------------------------------------------------------------------

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
            if isinstance(alert, lt.save_resume_data_alert):
                infohash = str(alert.params.info_hashes.v1)
                self.resume.pending.discard(infohash)
                if infohash in self._seeding:
                    self.resume.store(infohash, lt.write_resume_data_buf(alert.params))
            elif isinstance(alert, lt.save_resume_data_failed_alert):
                found = self._entry_for(alert.handle)
                if found is not None:
                    self.resume.pending.discard(found[0])
            elif isinstance(alert, lt.listen_succeeded_alert):
                address = f"{alert.address}:{alert.port}"
                is_tcp = alert.socket_type == lt.socket_type_t.tcp
                if is_tcp and address not in self.listen_addresses:
                    self.listen_addresses.append(address)
                    log.info("listening on %s", address)
            elif isinstance(alert, lt.tracker_error_alert):
                if _is_http(alert.tracker_url()):
                    self._announce_failed(alert.handle, alert.message())
                else:
                    # libtorrent retries the WebSocket tracker on its own back-off, and browsers
                    # still have the web seed meanwhile: worth a line, not the HTTP retry loop.
                    log.warning("WebSocket announce failed: %s", alert.message())
            elif isinstance(alert, lt.tracker_reply_alert):
                if _is_http(alert.tracker_url()):
                    self._announced(alert.handle)
            elif isinstance(alert, lt.listen_failed_alert):
                log.error("cannot listen on %s:%s: %s", alert.address, alert.port, alert.message())
            elif isinstance(alert, lt.file_error_alert | lt.torrent_error_alert):
                self._torrent_failed(alert.handle, alert.message())
            elif isinstance(alert, lt.torrent_finished_alert):
                self._fetched(alert.handle)
            elif isinstance(alert, lt.hash_failed_alert):
                if self._is_fetching(alert.handle):
                    continue  # a bad piece from a peer: libtorrent fetches it again
                # In seed mode a piece is verified the first time it is sent: a failure means
                # the file changed on disk after hashing.
                self._torrent_failed(
                    alert.handle, f"piece {alert.piece_index} failed its hash check"
                )
            elif isinstance(alert, lt.torrent_checked_alert):
                self._torrent_checked(alert.handle)
            elif isinstance(alert, lt.state_changed_alert):
                if alert.state == lt.torrent_status.checking_files:
                    self._checking_files(alert.handle)
            elif alert.category() & lt.alert_category.error:
                log.warning("%s", alert.message())

    def _is_fetching(self, handle: lt.torrent_handle) -> bool:
        found = self._entry_for(handle)
        return found is not None and found[1].fetching

    def _checking_files(self, handle: lt.torrent_handle) -> None:
        found = self._entry_for(handle)
        if found is not None:
            # Worth seeing in the log: a check reads every byte of the content.
            log.info("content %s: checking every piece of its files", found[1].content_id)

    def _torrent_failed(self, handle: lt.torrent_handle, detail: str) -> None:
        found = self._entry_for(handle)
        if found is None:
            return
        infohash, entry = found
        self._remove(infohash, delete_resume=True)
        if entry.fetching:  # (its files are incomplete by nature: the error is what counts)
            self.health.mark_failed(entry.item, f"fetching failed: {detail}")
            return
        # "file missing: x" says more than libtorrent's errno text for the same cause.
        problem = file_problem(entry.item)
        self.health.mark_failed(entry.item, problem or detail, "missing" if problem else "error")

    def _torrent_checked(self, handle: lt.torrent_handle) -> None:
        found = self._entry_for(handle)
        if found is None:
            return
        infohash, entry = found
        if entry.fetching:
            if handle.status().is_seeding:  # everything was on disk already
                self._fetched(handle)
            return
        if not entry.verifying:
            return
        status = handle.status()
        if status.is_seeding:
            entry.verifying = False
            self.health.report(entry.content_id, "seeding")
            log.info("content %s is healthy again", entry.content_id)
            self._ask_resume(infohash, handle)
        else:
            detail = f"only {status.progress_ppm / 10_000:.1f}% of the pieces check out"
            self._remove(infohash, delete_resume=True)
            self.health.mark_failed(entry.item, detail)

    # --- loop -----------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        on_tick: Callable[[Seeder], None],
        tick_seconds: float,
    ) -> None:
        """Pump alerts until ``stop`` is set, calling ``on_tick(self)`` every ``tick_seconds``."""
        next_tick = 0.0
        while not stop.is_set():
            self.wait(timeout=min(0.25, tick_seconds))
            self.pump_alerts()
            self.retry_announces()
            now = time.monotonic()
            if now >= next_tick:
                on_tick(self)
                next_tick = now + tick_seconds
            self.flush_resume_data()

    def close(self, timeout: float = 5.0) -> None:
        """Save every torrent's resume data in one write, then stop the session.

        Waits at most ``timeout`` seconds for libtorrent's resume data; what is in by then is
        written (one fsync), the rest keeps the state saved before.
        """
        self.session.pause()
        self.save_resume_data(everything=True)
        deadline = time.monotonic() + timeout
        while self.resume.pending and time.monotonic() < deadline:
            self.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            self.pump_alerts()
        if self.resume.pending:
            log.warning("stopping with %s resume saves unfinished", len(self.resume.pending))
        else:
            log.info("saved the state of %s contents", len(self._seeding))
        self.flush_resume_data(force=True)
        self.session.set_alert_fd(-1)
        self._wake_write.close()
        self._wake_read.close()
