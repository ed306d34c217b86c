"""The browser client's API: the P2P choice, the browser's .torrent, and peer-bytes reports.

``GET``/``PUT /api/v1/settings/p2p``, ``GET /api/v1/contents/{id}/browser-torrent`` and
``POST /api/v1/contents/{id}/peer-bytes`` (the page's count of bytes from other peers).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django_ratelimit.core import is_ratelimited
from ninja import Field, Router, Schema

from accounts.http import AuthenticatedHttpRequest
from ledger import access
from swarm import peer_sharing
from swarm.models import Content

router = Router(tags=["p2p"])
REPORT_LIMIT_GROUP = "swarm.peer_bytes"


class Error(Schema):
    detail: str


class PeerSharingIO(Schema):
    enabled: bool = Field(description="P2P in the browser at all; off: the web seed only")
    paid: bool = Field(description="P2P for paid items too (free items share by default)")


class PeerBytesIn(Schema):
    # An int of any size parses; the service refuses what the content's size makes impossible.
    bytes_from_peers: int = Field(description="bytes received from peers since the last report")


class PeerBytesOut(Schema):
    content_id: int
    received: int = Field(description="your all-time total for this content, self-reported")


@router.get("/settings/p2p", response=PeerSharingIO)
def get_peer_sharing(request: AuthenticatedHttpRequest) -> PeerSharingIO:
    choice = peer_sharing.preference(request.user)
    return PeerSharingIO(enabled=choice.enabled, paid=choice.paid)


@router.put("/settings/p2p", response=PeerSharingIO)
def put_peer_sharing(request: AuthenticatedHttpRequest, payload: PeerSharingIO) -> PeerSharingIO:
    """P2P shares your IP address with other viewers of the item; turn it off to use only the
    web seed."""
    choice = peer_sharing.set_preference(request.user, enabled=payload.enabled, paid=payload.paid)
    return PeerSharingIO(enabled=choice.enabled, paid=choice.paid)


def _fetchable(request: AuthenticatedHttpRequest, content_id: int) -> Content | None:
    content = Content.objects.published().filter(pk=content_id).first()
    if content is None:
        return None
    return content if access.may_fetch(request.user, content) else None


@router.get(
    "/contents/{content_id}/browser-torrent",
    response={200: None, 404: Error},
    url_name="browser_torrent",
    openapi_extra={
        "responses": {200: {"content": {"application/x-bittorrent": {}}, "description": "OK"}}
    },
)
def browser_torrent(
    request: AuthenticatedHttpRequest, content_id: int
) -> HttpResponse | tuple[int, Any]:
    """Your .torrent for a browser: the WebSocket tracker as its announce, your web seed."""
    content = _fetchable(request, content_id)
    if content is None or content.metainfo is None:
        return 404, {"detail": "No such content, or no access to it."}
    response = HttpResponse(
        peer_sharing.browser_metainfo(content, request.user),
        content_type="application/x-bittorrent",
    )
    response["Cache-Control"] = "private, no-store"  # it holds the passkey
    return response


@router.post(
    "/contents/{content_id}/peer-bytes",
    response={200: PeerBytesOut, 404: Error, 422: Error, 429: Error},
    url_name="peer_bytes",
)
def report_peer_bytes(
    request: AuthenticatedHttpRequest, content_id: int, payload: PeerBytesIn
) -> tuple[int, Any]:
    """Report bytes your browser received from peers for a content you may download; shown to
    its creator as self-reported. 422: a count below 1 or above the content's size."""
    if is_ratelimited(
        request,
        group=REPORT_LIMIT_GROUP,
        key="user",
        rate=settings.PEER_BYTES_REPORT_RATE,
        method="POST",
        increment=True,
    ):
        return 429, {"detail": "Too many reports; send one a minute at most."}
    content = _fetchable(request, content_id)
    if content is None:
        return 404, {"detail": "No such content, or no access to it."}
    try:
        total = peer_sharing.record_peer_bytes(request.user, content, payload.bytes_from_peers)
    except peer_sharing.ReportRefused as refused:
        return 422, {"detail": str(refused)}
    return 200, {"content_id": content.pk, "received": total}
