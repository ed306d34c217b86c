"""The tracker's answers, served two ways: Django views and an ASGI fast path before Django.

The Django views are routed in ``swarm/urls.py``; ``TrackerRouter``, an ASGI middleware in front
of Django (see ``btt_site/asgi.py``), gives the same answers to tracker GETs without Django's
middleware stack. Everything is async: Redis through ``peers``, and the database, on a cache
miss, through one hop (``btt_platform.fastpath.in_database``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from btt_platform.fastpath import ASGIApp, Receive, Scope, Send, secure_enough
from swarm import admission
from swarm.tracker import hotpath
from swarm.tracker.auth import Grant, Refusal, authorise, authorise_found, valid_passkey
from swarm.tracker.entitlements import Found
from swarm.tracker.peers import SwarmState, record_announce, redis_client, scrape_counts
from swarm.tracker.protocol import (
    AnnounceQuery,
    IPAddress,
    Payload,
    TrackerError,
    bencode,
    client_address,
    parse_announce,
    parse_scrape,
    peer_dict,
    raw_query,
)
from swarm.tracker.transfers import maybe_flush_transfer_totals

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)


# --- answers --------------------------------------------------------------------------------


async def _answer(passkey: str, handler: Callable[[], Awaitable[Payload]]) -> bytes:
    """The bencoded reply: ``handler``'s payload, or a ``failure reason`` — never an error."""
    try:
        if not passkey:
            raise TrackerError("passkey required: download the torrent from the site again")
        payload = await handler()
    except TrackerError as refusal:
        payload = {b"failure reason": str(refusal).encode()}
    except Exception:
        logger.exception("tracker request failed")
        payload = {b"failure reason": b"tracker error, try again later"}
    return bencode(payload)


async def announce(passkey: str, query: bytes, remote_addr: str) -> bytes:
    """Answer an announce: ``query`` is the raw query string, ``remote_addr`` the peer's IP."""
    return await _answer(passkey, lambda: _announce(passkey, query, remote_addr))


async def scrape(passkey: str, query: bytes) -> bytes:
    return await _answer(passkey, lambda: _scrape(passkey, query))


async def _announce(passkey: str, raw: bytes, remote_addr: str) -> Payload:
    query = parse_announce(raw)
    address = client_address(remote_addr)
    if not valid_passkey(passkey):
        raise TrackerError("invalid passkey")
    client = await redis_client()
    # Nearly always one round trip: the kept entries grant it (see ``hotpath``).
    answered = await hotpath.announce(client, query, passkey, address)
    if isinstance(answered, hotpath.Answered):
        swarm, user_id = answered.swarm, answered.user_id
    else:
        swarm, user_id = await _announce_decided(client, answered, query, passkey, address)
    if user_id is not None:
        await maybe_flush_transfer_totals()
    interval = settings.TRACKER_INTERVAL_SECONDS
    payload: Payload = {
        b"interval": interval,
        b"min interval": max(interval // 2, 1),
        b"complete": swarm.seeders,
        b"incomplete": swarm.leechers,
        b"downloaded": swarm.completed,
    }
    if query.compact:
        payload[b"peers"] = b"".join(a for _, a in swarm.peers if len(a) == 6)
        peers6 = b"".join(a for _, a in swarm.peers if len(a) == 18)
        if peers6:
            payload[b"peers6"] = peers6
    else:
        payload[b"peers"] = [peer_dict(peer_id, a, query.no_peer_id) for peer_id, a in swarm.peers]
    return payload


async def _announce_decided(
    client: aioredis.Redis,
    found: Found,
    query: AnnounceQuery,
    passkey: str,
    address: IPAddress,
) -> tuple[SwarmState, int | None]:
    """The long way, when the kept entries did not grant the announce: decided from them or
    the database (``authorise_found``), then recorded, then (a paid content) admitted."""
    decision = await authorise_found(client, found, passkey, query.info_hash.hex())
    if isinstance(decision, Refusal):
        raise TrackerError(decision.reason)
    swarm = await record_announce(query, passkey, address, decision)
    if decision.user_id is not None and decision.private:
        # The engine uploads a paid torrent only to addresses admitted here.
        await admission.record(
            client,
            infohash=query.info_hash.hex(),
            user_id=decision.user_id,
            address=address,
            member=query.peer_id + passkey.encode("ascii"),
            stopped=query.event == "stopped",
            until=decision.until,
        )
    return swarm, decision.user_id


async def _scrape(passkey: str, raw: bytes) -> Payload:
    infohashes = [h.hex() for h in parse_scrape(raw)]
    allowed = []
    for infohash in infohashes:
        decision = await authorise(passkey, infohash)
        if isinstance(decision, Grant):
            allowed.append(infohash)
        elif decision.about_passkey:
            raise TrackerError(decision.reason)
        # BEP 48: torrents the tracker does not serve to this user are left out.
    counts = await scrape_counts(allowed, passkey)
    return {
        b"files": {
            bytes.fromhex(infohash): {
                b"complete": c.complete,
                b"downloaded": c.downloaded,
                b"incomplete": c.incomplete,
            }
            for infohash, c in counts.items()
        }
    }


# --- Django views -----------------------------------------------------------------------------


def _response(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="text/plain")


async def announce_view(request: HttpRequest, passkey: str = "") -> HttpResponse:
    remote_addr: str = request.META.get("REMOTE_ADDR", "")
    return _response(await announce(passkey, raw_query(request), remote_addr))


async def scrape_view(request: HttpRequest, passkey: str = "") -> HttpResponse:
    return _response(await scrape(passkey, raw_query(request)))


# --- the ASGI fast path -----------------------------------------------------------------------

# The same paths as swarm/urls.py routes to the views.
_ROUTE = re.compile(r"/(?P<action>announce|scrape)(?:/|/(?P<passkey>[^/]+))?")
# Any other path under /announce or /scrape (``/announce/..%2f..``, ``/scrape/a/b``) and any
# method: still a BitTorrent client's, so a bencoded refusal rather than an HTML 404 or 405.
_ODD_ROUTE = re.compile(r"/(?:announce|scrape)(?:/.*)?", re.DOTALL)
_ODD_REPLY: Final = bencode({b"failure reason": b"unknown tracker path or method"})


class TrackerRouter:
    """ASGI middleware: tracker GETs answered here, everything else passed on to ``app``.

    The same answers as the views, without Django's middleware stack: its sync-only middleware
    runs each request through a fresh thread, which costs milliseconds, while an announce
    answered from the caches and one Redis round trip costs a fraction of one. None of the page
    middleware (sessions, CSRF, CSP, host checks for pages) concerns a bencoded reply to a
    BitTorrent client; a request Django would redirect to HTTPS is left to Django.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ROUTE.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "GET" or not secure_enough(scope):
            odd = scope["type"] == "http" and match is None and _ODD_ROUTE.fullmatch(scope["path"])
            if odd and secure_enough(scope):
                await self._reply(send, _ODD_REPLY)
            else:
                await self.app(scope, receive, send)
            return
        passkey = match["passkey"] or ""
        query: bytes = scope.get("query_string", b"")
        if match["action"] == "announce":
            client = scope.get("client")
            body = await announce(passkey, query, client[0] if client else "")
        else:
            body = await scrape(passkey, query)
        await self._reply(send, body)

    @staticmethod
    async def _reply(send: Send, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
