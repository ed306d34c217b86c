"""Announces that failed, retried by the engine itself rather than on libtorrent's back-off.

libtorrent retries a failed announce 17 s after the first failure, 55 s after the second, 117 s
after the third (its ``tracker_backoff``). An engine that starts before the web process answers
(``make run`` starts both at once) stayed out of the tracker's replies for 72 s that way when
the web process needed more than 17 s. So the engine re-announces failed torrents itself:
one probe a second while the tracker fails, and every failed torrent at once as soon as a probe
gets through.
"""

from __future__ import annotations

import logging
from typing import Final

# Every module of the engine logs as "swarm.engine", the name runswarm's output is read by.
log = logging.getLogger("swarm.engine")

# While the tracker fails, one failed torrent re-announces this often.
ANNOUNCE_PROBE_SECONDS: Final = 1.0


class FailedAnnounces:
    """The torrents whose last announce failed, in the order they are probed."""

    def __init__(self) -> None:
        self._waiting: dict[str, None] = {}  # an ordered set
        self._next_probe = 0.0

    def failed(self, infohash: str, message: str) -> None:
        if infohash not in self._waiting:
            log.warning("announce of %s failed, retrying every second: %s", infohash, message)
        self._waiting[infohash] = None

    def succeeded(self, infohash: str) -> list[str]:
        """The torrents to re-announce now: every other failed one, once the tracker answers
        again (not at their turn); none when ``infohash`` was not failing."""
        if infohash not in self._waiting:
            return []
        del self._waiting[infohash]
        log.info("announced %s", infohash)
        return list(self._waiting)

    def due(self, now: float) -> str | None:
        """The torrent to probe at ``now`` (monotonic), if any: one per ANNOUNCE_PROBE_SECONDS."""
        if not self._waiting or now < self._next_probe:
            return None
        self._next_probe = now + ANNOUNCE_PROBE_SECONDS
        infohash = next(iter(self._waiting))
        # To the back of the line: a torrent the tracker refuses must not starve the others.
        del self._waiting[infohash]
        self._waiting[infohash] = None
        return infohash

    def discard(self, infohash: str) -> None:
        self._waiting.pop(infohash, None)
