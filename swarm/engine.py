"""The libtorrent session: ``swarm.engine.Seeder`` runs inside ``manage.py runswarm`` only.

One session per node, with seedbox settings. One loop pumps alerts, reconciles the session with
what the database says is published, saves resume data, and reports stats and a heartbeat. The
Seeder itself knows nothing of the ORM: ``runswarm`` hands it ``Published`` records and receives
``HealthReport``s and ``TorrentStats`` back.

Paid (private) torrents are served only to admitted addresses: the session's ``ip_filter`` blocks
every address but those ``runswarm`` passes to ``admit`` (``swarm.admission``), and only torrents
with ``apply_ip_filter`` obey it — the private ones; free torrents have it cleared.

Announces: libtorrent retries a failed announce 17 s after the first failure, 55 s after the
second, 117 s after the third (its back-off, ``tracker_backoff``). An engine that starts before
the web process answers (``make run`` starts both at once) stayed out of the tracker's replies
for 72 s that way when the web process needed more than 17 s. The engine
re-announces failed torrents itself instead: one probe a second while the tracker fails, and
every failed torrent at once as soon as a probe gets through.

Resume data lives in one file, ``resume.batch`` in the state folder: a bencoded dict of
infohash -> libtorrent's resume buffer. All the saves asked for at once (the periodic save, the
saves of contents just added, the save on stop) are collected and written in one go: a temporary
file, one fsync, a rename, one fsync of the folder. One file per content cost two fsyncs per
content, 8-13 s for 1,000 contents on stop, past the 10 s docker and systemd allow before
SIGKILL. (Per-content files written without fsync and one ``syncfs`` would sync every dirty page
of the file system, uploads being written included: no bound on the time.) A node upgraded in
place still reads its per-content ``<infohash>.resume`` files, and deletes them once their
contents are in the batch file on disk.
"""

from __future__ import annotations

import logging
import os
import re
import select
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import libtorrent as lt

from swarm.seeding import EngineStats, HealthReport, Published, TorrentStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    listen_interfaces: str
    state_dir: Path


@dataclass
class _Seeding:
    item: Published
    handle: lt.torrent_handle
    # True while a re-added unhealthy content is being checked; healthy once it seeds.
    verifying: bool = False
    # A paid torrent (private flag in its info dict): served to admitted addresses only.
    private: bool = True

    @property
    def content_id(self) -> int:
        return self.item.content_id


@dataclass
class _Failure:
    """Why a content is not seeded, and the file signature it was judged on."""

    detail: str
    signature: tuple[tuple[str, int, float], ...] = field(default_factory=tuple)


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
            # The ip_filter is the allow-list of peers for paid torrents; it must not keep the
            # engine from its own tracker (libtorrent applies it to trackers by default).
            "apply_ip_filter_to_trackers": False,
            # On stop the session waits this long at most for the tracker to take its "stopped"
            # announces (default 5 s): with SWARM_STOP_GRACE_SECONDS it bounds a stop.
            "stop_tracker_timeout": 2,
            "alert_mask": lt.alert_category.error
            | lt.alert_category.status
            | lt.alert_category.storage
            | lt.alert_category.tracker,
        }
    )
    return pack


_BLOCKED: Final = 1  # lt.ip_filter's access flag for a blocked range
_ALL_IPV4: Final = ("0.0.0.0", "255.255.255.255")  # noqa: S104 - a range, not a bind
_ALL_IPV6: Final = ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
# While the tracker fails, one failed torrent re-announces this often.
ANNOUNCE_PROBE_SECONDS: Final = 1.0


def allow_only(addresses: frozenset[str]) -> lt.ip_filter:
    """An ip_filter blocking every IPv4 and IPv6 address except ``addresses``."""
    ip_filter = lt.ip_filter()
    ip_filter.add_rule(*_ALL_IPV4, _BLOCKED)
    ip_filter.add_rule(*_ALL_IPV6, _BLOCKED)
    for address in sorted(addresses):
        ip_filter.add_rule(address, address, 0)
    return ip_filter


def _file_signature(item: Published) -> tuple[tuple[str, int, float], ...]:
    signature = []
    for path, _size in item.files:
        try:
            stat = (item.save_path / path).stat()
            signature.append((path, stat.st_size, stat.st_mtime))
        except OSError:
            signature.append((path, -1, 0.0))
    return tuple(signature)


def _file_problem(item: Published) -> str | None:
    """What is wrong with the content's files on disk, or None when sizes all match."""
    for path, size in item.files:
        full = item.save_path / path
        try:
            actual = full.stat().st_size
        except FileNotFoundError:
            return f"file missing: {path}"
        except OSError as exc:
            return f"file unreadable: {path}: {exc.strerror}"
        if actual != size:
            return f"file changed: {path} is {actual} bytes, the torrent says {size}"
    return None


_TMP_SUFFIX = ".tmp"
RESUME_BATCH: Final = "resume.batch"
# Saves still outstanding after this long do not hold back the ones already in.
RESUME_FLUSH_MAX_DELAY: Final = 5.0
_LEGACY_RESUME = re.compile(r"[0-9a-f]{40}\.resume")


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a reader (or a restart after SIGKILL) sees old or new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself survives a power cut only once the folder is on disk too.
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Seeder:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        # A process killed in the middle of a write leaves its temporary file behind.
        for pattern in (f"*.resume*{_TMP_SUFFIX}", f"{RESUME_BATCH}*{_TMP_SUFFIX}"):
            for leftover in config.state_dir.glob(pattern):
                leftover.unlink(missing_ok=True)
        # infohash -> resume buffer: what the batch file holds, or will at the next write.
        self._resume: dict[str, bytes] = {}
        self._resume_dirty_since: float | None = None
        self._next_flush_attempt = 0.0
        # Per-content files of an older engine, deleted once the batch file holds them.
        self._legacy_resume: list[Path] = []
        self._load_resume()
        # session_params: nothing starts listening before the settings apply.
        self.session = lt.session(lt.session_params(seedbox_settings(config.listen_interfaces)))
        # libtorrent writes a byte to this socket when alerts are waiting; set_alert_notify's
        # callback runs on libtorrent's thread and can deadlock against the GIL.
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self.session.set_alert_fd(self._wake_write.fileno())
        # Nobody is admitted until runswarm says otherwise: paid torrents start closed.
        self.session.set_ip_filter(allow_only(frozenset()))
        self._allowed: frozenset[str] = frozenset()
        self._admitted: dict[str, frozenset[str]] = {}
        # Torrents whose last announce failed, in the order they are probed.
        self._unannounced: dict[str, None] = {}
        self._next_probe = 0.0
        self.listen_addresses: list[str] = []
        self._seeding: dict[str, _Seeding] = {}  # infohash -> entry
        self._failed: dict[int, _Failure] = {}  # content id -> why it is not seeded
        self._reports: list[HealthReport] = []
        # Torrents asked for resume data whose alert has not come yet.
        self._pending_saves: set[str] = set()

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

    # --- admission ------------------------------------------------------------------------

    def admit(self, admitted: Mapping[str, frozenset[str]]) -> None:
        """Serve paid torrents to exactly the ``admitted`` addresses (per infohash).

        The filter is the session's, one for all paid torrents: an address admitted for one of
        them passes the filter for all (see ARCHITECTURE, "Admission"). libtorrent disconnects
        the peers a new filter blocks. A torrent that gained an address re-announces, so that
        the engine connects to the new peer at once: the peer's own first attempt may have come
        before the filter let it in.
        """
        allowed = frozenset[str]().union(*admitted.values())
        if allowed != self._allowed:
            self.session.set_ip_filter(allow_only(allowed))
            self._allowed = allowed
            log.info("paid torrents: %s addresses admitted", len(allowed))
        for infohash, addresses in admitted.items():
            entry = self._seeding.get(infohash)
            before = self._admitted.get(infohash)
            # (A torrent just added announces anyway.)
            if entry is not None and before is not None and addresses - before:
                entry.handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
                log.info("content %s: re-announcing to meet newly admitted peers", entry.content_id)
        self._admitted = dict(admitted)

    @property
    def allowed_addresses(self) -> frozenset[str]:
        return self._allowed

    # --- announces ------------------------------------------------------------------------

    def _announce_failed(self, handle: lt.torrent_handle, message: str) -> None:
        found = self._entry_for(handle)
        if found is None:
            return
        infohash = found[0]
        if infohash not in self._unannounced:
            log.warning("announce of %s failed, retrying every second: %s", infohash, message)
        self._unannounced[infohash] = None

    def _announced(self, handle: lt.torrent_handle) -> None:
        found = self._entry_for(handle)
        if found is None or found[0] not in self._unannounced:
            return
        del self._unannounced[found[0]]
        log.info("announced %s", found[0])
        # The tracker answers again: every torrent that failed announces now, not at its turn.
        for infohash in self._unannounced:
            self._seeding[infohash].handle.force_reannounce(
                0, -1, lt.reannounce_flags_t.ignore_min_interval
            )

    def retry_announces(self) -> None:
        """While announces fail, re-announce one failed torrent per ANNOUNCE_PROBE_SECONDS."""
        now = time.monotonic()
        if not self._unannounced or now < self._next_probe:
            return
        self._next_probe = now + ANNOUNCE_PROBE_SECONDS
        infohash = next(iter(self._unannounced))
        # To the back of the line: a torrent the tracker refuses must not starve the others.
        del self._unannounced[infohash]
        self._unannounced[infohash] = None
        self._seeding[infohash].handle.force_reannounce(
            0, -1, lt.reannounce_flags_t.ignore_min_interval
        )

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
                )
            )
        return result

    def take_health_reports(self) -> list[HealthReport]:
        reports, self._reports = self._reports, []
        return reports

    # --- reconciliation -------------------------------------------------------------------

    def reconcile(self, wanted: list[Published], announce_url: str) -> None:
        """Make the session seed exactly ``wanted``; report contents whose files are bad."""
        by_hash = {item.infohash: item for item in wanted}
        for infohash in list(self._seeding):
            if infohash not in by_hash:
                self._remove(infohash, delete_resume=True)
                log.info("stopped seeding %s (unpublished)", infohash)
        # The database is told again whenever it disagrees with the engine: a report lost to
        # a failed tick (database away for a moment) is not lost for good.
        for item in wanted:
            problem = _file_problem(item)
            entry = self._seeding.get(item.infohash)
            if entry is not None:
                if problem:
                    self._remove(item.infohash, delete_resume=False)
                    self._fail(item, problem)
                elif not item.healthy and not entry.verifying:
                    self._reports.append(HealthReport(item.content_id, healthy=True))
                continue
            if problem:
                self._fail(item, problem)
                continue
            failure = self._failed.get(item.content_id)
            if failure and failure.signature == _file_signature(item):
                # Already judged these exact files; wait for them to change.
                if item.healthy:
                    self._reports.append(
                        HealthReport(item.content_id, healthy=False, detail=failure.detail)
                    )
                continue
            self._add(item, announce_url)

    def _fail(self, item: Published, detail: str) -> None:
        failure = self._failed.get(item.content_id)
        if failure is None or failure.detail != detail or item.healthy:
            log.warning("content %s is unhealthy: %s", item.content_id, detail)
            self._reports.append(HealthReport(item.content_id, healthy=False, detail=detail))
        self._failed[item.content_id] = _Failure(detail, _file_signature(item))

    def _add(self, item: Published, announce_url: str) -> None:
        resume = self._resume.get(item.infohash)
        params = None
        if not item.healthy:
            # Its files were missing or wrong: saved state vouches for pieces that may have
            # changed since, so this content gets a full hash check before it seeds again.
            self._forget_resume(item.infohash)
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
        # The engine fetches from nobody: no web seeds, and never download (upload_mode) if a
        # check finds pieces missing. It announces with its own passkey.
        if params.ti is not None:
            params.ti.set_web_seeds([])
        params.url_seeds = []
        params.trackers = [announce_url]
        params.flags |= lt.torrent_flags.override_trackers | lt.torrent_flags.override_web_seeds
        params.flags |= lt.torrent_flags.upload_mode
        params.flags &= ~lt.torrent_flags.auto_managed
        params.flags &= ~lt.torrent_flags.paused
        # Paid torrents obey the allow-list; free ones are served to anyone who has the hash
        # (add_torrent_params sets apply_ip_filter by default).
        info = params.ti if params.ti is not None else lt.torrent_info(item.metainfo)
        private = bool(info.priv())
        if private:
            params.flags |= lt.torrent_flags.apply_ip_filter
        else:
            params.flags &= ~lt.torrent_flags.apply_ip_filter
        params.save_path = str(item.save_path)
        handle = self.session.add_torrent(params)
        self._seeding[item.infohash] = _Seeding(item, handle, verifying=verifying, private=private)
        self._failed.pop(item.content_id, None)
        if from_scratch and not verifying:
            # Saved now, not at the next periodic save: an engine killed a moment later still
            # restarts without hashing anything. (A content being checked is saved once the
            # check passed, so a kill meanwhile checks it again.)
            self._ask_resume(item.infohash, handle)
        log.info("seeding content %s (%s)", item.content_id, item.infohash)

    def _remove(self, infohash: str, *, delete_resume: bool) -> None:
        entry = self._seeding.pop(infohash)
        self._unannounced.pop(infohash, None)
        self._pending_saves.discard(infohash)
        self.session.remove_torrent(entry.handle)
        if delete_resume:
            self._forget_resume(infohash)

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
            unsaved = infohash not in self._resume and not entry.verifying
            if everything or unsaved or entry.handle.need_save_resume_data():
                self._ask_resume(infohash, entry.handle)

    def _ask_resume(self, infohash: str, handle: lt.torrent_handle) -> None:
        handle.save_resume_data(lt.save_resume_flags_t.save_info_dict)
        self._pending_saves.add(infohash)

    def _forget_resume(self, infohash: str) -> None:
        if self._resume.pop(infohash, None) is not None:
            self._mark_resume_dirty()

    def _mark_resume_dirty(self) -> None:
        if self._resume_dirty_since is None:
            self._resume_dirty_since = time.monotonic()

    def _load_resume(self) -> None:
        """Read the batch file, and per-content files an older engine left; never raise."""
        batch = self.config.state_dir / RESUME_BATCH
        try:
            decoded = lt.bdecode(batch.read_bytes())
            if not isinstance(decoded, dict):
                raise RuntimeError("not a bencoded dict")
            for key, value in decoded.items():
                infohash = key.decode("ascii") if isinstance(key, bytes) else str(key)
                if isinstance(value, bytes):
                    self._resume[infohash] = value
        except FileNotFoundError:
            pass
        except (OSError, RuntimeError, UnicodeDecodeError) as exc:
            # A torn or damaged file: its contents are added as freshly published (seed mode,
            # each piece verified the first time it is sent), and a good file replaces it.
            log.warning("ignoring the saved state file %s: %s", batch, exc)
            self._resume.clear()
            self._mark_resume_dirty()
        for path in sorted(self.config.state_dir.glob("*.resume")):
            if not _LEGACY_RESUME.fullmatch(path.name):
                continue
            infohash = path.name.removesuffix(".resume")
            if infohash not in self._resume:
                try:
                    self._resume[infohash] = path.read_bytes()
                except OSError as exc:
                    log.warning("ignoring resume data for %s: %s", infohash, exc)
            self._legacy_resume.append(path)
        if self._legacy_resume:
            log.info("read %s per-content state files", len(self._legacy_resume))
            self._mark_resume_dirty()

    def flush_resume_data(self, *, force: bool = False) -> None:
        """Write the batch file if anything changed: once every save asked for is in, or after
        RESUME_FLUSH_MAX_DELAY seconds, or now (``force``)."""
        since = self._resume_dirty_since
        if since is None:
            return
        now = time.monotonic()
        if not force and (
            now < self._next_flush_attempt
            or (self._pending_saves and now - since < RESUME_FLUSH_MAX_DELAY)
        ):
            return
        try:
            entries: dict[bytes, lt._Entry] = {k.encode(): v for k, v in self._resume.items()}
            _write_atomically(self.config.state_dir / RESUME_BATCH, lt.bencode(entries))
        except OSError:
            # A full disk must not stop the seeding: the state stays in memory, tried again.
            log.exception("writing the saved state failed; retrying")
            self._next_flush_attempt = now + RESUME_FLUSH_MAX_DELAY
            return
        self._resume_dirty_since = None
        for path in self._legacy_resume:
            path.unlink(missing_ok=True)
        self._legacy_resume.clear()

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
                self._pending_saves.discard(infohash)
                if infohash in self._seeding:
                    self._resume[infohash] = lt.write_resume_data_buf(alert.params)
                    self._mark_resume_dirty()
            elif isinstance(alert, lt.save_resume_data_failed_alert):
                found = self._entry_for(alert.handle)
                if found is not None:
                    self._pending_saves.discard(found[0])
            elif isinstance(alert, lt.listen_succeeded_alert):
                address = f"{alert.address}:{alert.port}"
                is_tcp = alert.socket_type == lt.socket_type_t.tcp
                if is_tcp and address not in self.listen_addresses:
                    self.listen_addresses.append(address)
                    log.info("listening on %s", address)
            elif isinstance(alert, lt.tracker_error_alert):
                self._announce_failed(alert.handle, alert.message())
            elif isinstance(alert, lt.tracker_reply_alert):
                self._announced(alert.handle)
            elif isinstance(alert, lt.listen_failed_alert):
                log.error("cannot listen on %s:%s: %s", alert.address, alert.port, alert.message())
            elif isinstance(alert, lt.file_error_alert | lt.torrent_error_alert):
                self._torrent_failed(alert.handle, alert.message())
            elif isinstance(alert, lt.hash_failed_alert):
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
        # "file missing: x" says more than libtorrent's errno text for the same cause.
        detail = _file_problem(entry.item) or detail
        self._mark_failed(entry.item, detail)

    def _mark_failed(self, item: Published, detail: str) -> None:
        log.warning("content %s is unhealthy: %s", item.content_id, detail)
        # Judged on these files: reconcile retries once they change, not on every pass (each
        # retry of an unhealthy content is a full hash check).
        self._failed[item.content_id] = _Failure(detail, _file_signature(item))
        self._reports.append(HealthReport(item.content_id, healthy=False, detail=detail))

    def _torrent_checked(self, handle: lt.torrent_handle) -> None:
        found = self._entry_for(handle)
        if found is None:
            return
        infohash, entry = found
        if not entry.verifying:
            return
        status = handle.status()
        if status.is_seeding:
            entry.verifying = False
            self._reports.append(HealthReport(entry.content_id, healthy=True))
            log.info("content %s is healthy again", entry.content_id)
            self._ask_resume(infohash, handle)
        else:
            detail = f"only {status.progress_ppm / 10_000:.1f}% of the pieces check out"
            self._remove(infohash, delete_resume=True)
            self._mark_failed(entry.item, detail)

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
        while self._pending_saves and time.monotonic() < deadline:
            self.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            self.pump_alerts()
        if self._pending_saves:
            log.warning("stopping with %s resume saves unfinished", len(self._pending_saves))
        else:
            log.info("saved the state of %s contents", len(self._seeding))
        self.flush_resume_data(force=True)
        self.session.set_alert_fd(-1)
        self._wake_write.close()
        self._wake_read.close()
