"""Admission: the session's ``ip_filter`` serves paid torrents to admitted addresses only.

libtorrent uploads to any peer that connects with the infohash, private flag or not, so paid
torrents are guarded here: the filter blocks every address but those ``runswarm`` reads from
``swarm.admission``, and only torrents with ``apply_ip_filter`` obey it (the private ones; free
torrents have it cleared). The filter is the session's, one for all paid torrents: an address
admitted for one of them passes it for all (see ARCHITECTURE, "Admission").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

import libtorrent as lt

# Every module of the engine logs as "swarm.engine", the name runswarm's output is read by.
log = logging.getLogger("swarm.engine")

_BLOCKED: Final = 1  # lt.ip_filter's access flag for a blocked range
_ALL_IPV4: Final = ("0.0.0.0", "255.255.255.255")  # noqa: S104 - a range, not a bind
_ALL_IPV6: Final = ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")


def allow_only(addresses: frozenset[str]) -> lt.ip_filter:
    """An ip_filter blocking every IPv4 and IPv6 address except ``addresses``."""
    ip_filter = lt.ip_filter()
    ip_filter.add_rule(*_ALL_IPV4, _BLOCKED)
    ip_filter.add_rule(*_ALL_IPV6, _BLOCKED)
    for address in sorted(addresses):
        ip_filter.add_rule(address, address, 0)
    return ip_filter


class Admissions:
    """The addresses admitted per paid torrent, and the session's filter made of them."""

    def __init__(self, session: lt.session) -> None:
        self.session = session
        # Nobody is admitted until runswarm says otherwise: paid torrents start closed.
        self.session.set_ip_filter(allow_only(frozenset()))
        self.allowed: frozenset[str] = frozenset()
        self._admitted: dict[str, frozenset[str]] = {}

    def update(self, admitted: Mapping[str, frozenset[str]]) -> list[str]:
        """Let in exactly the ``admitted`` addresses (per infohash); libtorrent disconnects the
        peers a new filter blocks. Returns the torrents that gained an address since the last
        update. A torrent seen for the first time with admitted addresses counts as gaining
        them: its first announce may have been answered before this update, and libtorrent
        drops the peers a filter blocks, so without another announce a fan already in the
        swarm (an engine restarted mid-download) waits a whole interval to be met."""
        allowed = frozenset[str]().union(*admitted.values())
        if allowed != self.allowed:
            self.session.set_ip_filter(allow_only(allowed))
            self.allowed = allowed
            log.info("paid torrents: %s addresses admitted", len(allowed))
        gained = []
        for infohash, addresses in admitted.items():
            before = self._admitted.get(infohash)
            if addresses - (before or frozenset()):
                gained.append(infohash)
        self._admitted = dict(admitted)
        return gained
