"""Browsers as peers: the fan's P2P choice, the browser's copy of the metainfo, and the bytes
fans say they received from other peers (the saving the creator sees).

The browser client (``static/js/webtorrent-download.js``) gets the same .torrent a desktop
client gets, plus the WebSocket tracker as its announce: WebTorrent cannot use the HTTP tracker
and some desktop clients mishandle ``ws://`` entries, so only the browser's copy names it. Both
keys sit outside the info dict: the infohash, and so the swarm, are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast
from urllib.parse import quote

import libtorrent as lt
from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Least
from django.urls import reverse

from accounts.models import User
from swarm import torrents
from swarm.models import Content, PeerBytes, PeerSharing
from swarm.services import active_passkey
from swarm.webseed.serve import bytes_served

# A fan's reports for one content add up to at most this many copies of it: enough for
# re-downloads on a few devices, too little for one account to inflate a creator's figure much.
MAX_REPORTED_COPIES = 10


class PeerMode(StrEnum):
    """How a download page starts for a viewer: sharing, not, or asking first (paid items)."""

    ON = "on"
    OFF = "off"
    ASK = "ask"


def preference(user: User) -> PeerSharing:
    """``user``'s choice, or the defaults (P2P on, paid items only once chosen) when none."""
    found = PeerSharing.objects.filter(user=user).first()
    return found if found is not None else PeerSharing(user=user)


def set_preference(user: User, *, enabled: bool, paid: bool) -> PeerSharing:
    choice, _ = PeerSharing.objects.update_or_create(
        user=user, defaults={"enabled": enabled, "paid": paid}
    )
    return choice


def mode_for(user: User, content: Content) -> PeerMode:
    choice = preference(user)
    if not choice.enabled:
        return PeerMode.OFF
    if content.is_private and not choice.paid:
        return PeerMode.ASK
    return PeerMode.ON


def websocket_tracker_url(user: User) -> str:
    """``user``'s WebSocket tracker URL, on the site's own host (ws:// beside http://)."""
    scheme, _, rest = settings.SITE_URL.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest.rstrip('/')}/ws/announce/{active_passkey(user).key}"


def browser_metainfo(content: Content, user: User) -> bytes:
    """``user``'s .torrent with the WebSocket tracker as its only announce (web seed kept)."""
    metainfo = cast(dict[bytes, Any], lt.bdecode(torrents.personal_metainfo(content, user)))
    tracker = websocket_tracker_url(user).encode()
    metainfo[b"announce"] = tracker
    metainfo[b"announce-list"] = [[tracker]]
    info = metainfo[b"info"]
    if b"files" not in info:
        # BEP 19 puts a single file's name after a web seed URL ending in "/"; WebTorrent
        # requests the URL as it is, so the browser's copy names the file itself.
        name = quote(bytes(info[b"name"])).encode()
        metainfo[b"url-list"] = [
            url + name if url.endswith(b"/") else url for url in metainfo[b"url-list"]
        ]
    return lt.bencode(metainfo)


class ReportRefused(ValueError):
    """A peer-bytes report that is not a plausible count for this content."""


def record_peer_bytes(user: User, content: Content, count: int) -> int:
    """Add ``count`` bytes from peers to ``user``'s figure for ``content``; returns the total.

    Raises ``ReportRefused`` for a count below 1 or above the content's size (one report covers
    at most one download). The total stops at ``MAX_REPORTED_COPIES`` copies of the content.
    """
    if count < 1 or count > content.total_size:
        raise ReportRefused(f"a report counts 1 to {content.total_size} bytes")
    cap = content.total_size * MAX_REPORTED_COPIES
    with transaction.atomic():
        PeerBytes.objects.get_or_create(user=user, content=content)
        PeerBytes.objects.filter(user=user, content=content).update(
            received=Least(F("received") + count, cap)
        )
        return PeerBytes.objects.get(user=user, content=content).received


@dataclass(frozen=True)
class Saving:
    """Bytes fans got from the web seed against those they say came from peers."""

    webseed_bytes: int
    peer_bytes: int  # self-reported by fans' browsers

    @property
    def saved_percent(self) -> int | None:
        """The share of bytes that did not come from the web seed; None before any."""
        total = self.webseed_bytes + self.peer_bytes
        return round(100 * self.peer_bytes / total) if total else None


def peer_bytes_by_content(content_ids: list[int]) -> dict[int, int]:
    rows = (
        PeerBytes.objects.filter(content_id__in=content_ids)
        .values("content_id")
        .annotate(total=Sum("received"))
    )
    return {row["content_id"]: int(row["total"] or 0) for row in rows}


def saving_for(content_ids: list[int]) -> Saving:
    """The saving over ``content_ids`` (one content's, or a creator's whole catalogue)."""
    return Saving(
        webseed_bytes=sum(bytes_served(content_ids).values()),
        peer_bytes=sum(peer_bytes_by_content(content_ids).values()),
    )


def report_url(content: Content) -> str:
    return reverse("api-v1:peer_bytes", args=[content.pk])


def browser_torrent_url(content: Content) -> str:
    return reverse("api-v1:browser_torrent", args=[content.pk])
