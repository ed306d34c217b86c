"""``/ws/announce/<passkey>``: the WebSocket tracker browsers (WebTorrent) announce to.

A Channels consumer speaking npm ``bittorrent-tracker``'s protocol (``websocket_protocol``):
announces, WebRTC offers relayed one each to random other peers of the swarm, answers routed
back by ``to_peer_id``, scrapes. Who may announce what is the HTTP tracker's decision
(``auth.authorise``, the ledger's one access decision), taken for every announce and again
every ``TRACKER_WS_RECHECK_SECONDS`` for each swarm the socket is in, and at once when a grant
is revoked (``websocket_peers.recheck_now``): a peer whose access ends is taken out of the swarm
and told, and nothing more is relayed to it. The swarms live in
Redis (``websocket_peers``), so any web process serves any peer.

The relay is the admission of WebRTC peers: a data channel takes an offer and an answer, and
they cross only between peers whose passkey may have the torrent, the engine's included. (The
engine's ip_filter does not hold WebRTC peers: libtorrent 2.1.1 served a data channel from an
address it had not admitted.) A peer taken out because its access ended is marked
(``revocations.peer_refused``), and the engines drop the data channels they hold to it. For a
paid torrent the announcing address is admitted
(``swarm.admission``) as by the HTTP tracker all the same: the engine re-announces at once to
meet a newly admitted fan, and a desktop client on the same address is let in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from typing import Any, Final

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from btt_platform.broadcast import Member
from btt_platform.fastpath import ASGIApp, Receive, Scope, Send
from swarm import admission, revocations
from swarm.tracker import websocket_peers as peers
from swarm.tracker.auth import Grant, Refusal, authorise
from swarm.tracker.peers import redis_client
from swarm.tracker.protocol import TrackerError, client_address
from swarm.tracker.websocket_protocol import (
    Announce,
    ProtocolViolation,
    Scrape,
    binary,
    failure,
    parse_frame,
)

logger = logging.getLogger(__name__)

# RFC 6455 close codes: a frame that breaks the rules, one too big to take.
POLICY_VIOLATION: Final = 1008
MESSAGE_TOO_BIG: Final = 1009
# The passkey itself is refused (as ContentConsumer's 4403): reconnecting will not help.
FORBIDDEN: Final = 4403
# Passkeys are at most 64 characters (``auth``); the rest is decided there.
_MAX_PASSKEY_LENGTH: Final = 64


class _Closing(Exception):
    """Reply with a failure frame, then close with ``code``."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.code = code


class WebTorrentTracker(AsyncWebsocketConsumer, Member):  # type: ignore[misc]
    passkey: str
    socket_id: str
    # The swarms this socket's peers are admitted to: info hash -> the peer id announced.
    swarms: dict[bytes, bytes]
    _watch: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.passkey = self.scope["url_route"]["kwargs"]["passkey"]
        self.socket_id = secrets.token_hex(12)
        self.swarms = {}
        self._rechecks: set[asyncio.Task[None]] = set()
        # One recheck at a time: the periodic one and one asked at once (a revoked grant) would
        # otherwise both refuse the peer and tell the browser twice.
        self._recheck_lock = asyncio.Lock()
        # Subscribed before the handshake completes: an offer relayed right after this
        # socket's first announce must not fall between the two.
        if len(self.passkey) > _MAX_PASSKEY_LENGTH:
            # Refused before it names a Redis key (the rate limit's): no passkey is this long.
            await self.accept()
            await self._close_with("invalid passkey", FORBIDDEN)
            return
        try:
            await self.join_broadcast(peers.socket_group(self.socket_id), accept=self.accept)
        except Exception as away:
            # Redis away: nothing could be relayed to this socket. Refused at the handshake
            # (403) rather than as an error of the server; the client tries again later.
            logger.warning("WebSocket tracker refused a socket, the hub is away: %s", away)
            await self.close()
            return
        self._watch = asyncio.get_running_loop().create_task(self._recheck())

    async def disconnect(self, code: int) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for task in list(getattr(self, "_rechecks", ())):
            task.cancel()
        await self.leave_broadcast()
        for info_hash, peer_id in list(self.swarms.items()):
            with contextlib.suppress(Exception):
                await peers.touch(info_hash, peer_id, self.socket_id, leave=True)
        self.swarms.clear()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            if text_data is None:
                raise ProtocolViolation("binary frames are not the protocol")
            if len(text_data.encode("utf-8")) > settings.TRACKER_WS_MAX_MESSAGE_BYTES:
                raise _Closing("message too big", MESSAGE_TOO_BIG)
            if not await peers.within_rate(self.passkey):
                raise _Closing("too many requests for this passkey", POLICY_VIOLATION)
            request = parse_frame(text_data, settings.TRACKER_WS_MAX_OFFERS)
            if isinstance(request, Scrape):
                await self._scrape(request)
            else:
                await self._announce_or_refuse(request)
        except ProtocolViolation as garbage:
            await self._close_with(str(garbage), POLICY_VIOLATION)
        except _Closing as closing:
            await self._close_with(str(closing), closing.code)
        except TrackerError as refusal:
            await self.send(text_data=failure(str(refusal)))
        except OSError:
            # The page went away while its reply was being sent (the ASGI server's
            # ClientDisconnected is an OSError): nobody is left to tell, and the socket's
            # disconnect takes its peers out of their swarms.
            return
        except Exception:
            logger.exception("WebSocket tracker frame failed")
            await self.send(text_data=failure("tracker error, try again later"))

    async def _close_with(self, reason: str, code: int) -> None:
        await self.send(text_data=failure(reason))
        await self.close(code=code)

    async def _announce_or_refuse(self, request: Announce) -> None:
        try:
            await self._announce(request)
        except (ProtocolViolation, _Closing):
            raise
        except TrackerError as refusal:
            # With the action and info hash, so that the client's torrent hears its refusal.
            await self.send(text_data=failure(str(refusal), "announce", request.info_hash))

    async def _admitted(self, info_hash: bytes) -> Grant:
        decision = await authorise(self.passkey, info_hash.hex())
        if isinstance(decision, Refusal):
            if decision.about_passkey:
                # Refused for every swarm (a rotated passkey): all of this socket's peers go.
                for swarm in list(self.swarms):
                    await self._refuse(swarm)
                raise _Closing(decision.reason, FORBIDDEN)
            await self._refuse(info_hash)
            raise TrackerError(decision.reason)
        return decision

    async def _refuse(self, info_hash: bytes) -> None:
        """Take this socket's peer out of the swarm because its access ended, and mark it so
        (``revocations.peer_refused``): the engines drop their data channels to that peer id,
        which leaving the swarm alone does not close."""
        peer_id = self.swarms.get(info_hash)
        if peer_id is None:
            return
        await self._leave(info_hash)
        await revocations.peer_refused(await redis_client(), info_hash, peer_id)

    async def _announce(self, request: Announce) -> None:
        grant = await self._admitted(request.info_hash)
        if request.answer is not None:
            await self._route_answer(request)
            return
        known = self.swarms.get(request.info_hash)
        if known is not None and known != request.peer_id:
            await self._leave(request.info_hash)  # the client changed its peer id
        swarm = await peers.announce(
            request.info_hash,
            request.peer_id,
            socket_id=self.socket_id,
            passkey=self.passkey,
            seeder=request.seeder,
            event=request.event,
            offers=len(request.offers),
        )
        if swarm is None:
            raise TrackerError("peer_id in use by another account")
        if request.event == "stopped":
            self.swarms.pop(request.info_hash, None)
        else:
            self.swarms[request.info_hash] = request.peer_id
        await self._admit_address(grant, request.info_hash, request.peer_id, request.event)
        for offer, (peer_id, target) in zip(request.offers, swarm.targets, strict=False):
            frame = {
                "action": "announce",
                "offer": offer.offer,
                "offer_id": offer.offer_id,
                "peer_id": binary(request.peer_id),
                "info_hash": binary(request.info_hash),
            }
            await self._relay(request.info_hash, peer_id, target, frame)
        # The reply after the relays: once the sender has it, its offers are on their way.
        await self.send(
            text_data=json.dumps(
                {
                    "action": "announce",
                    "interval": settings.TRACKER_WS_INTERVAL_SECONDS,
                    "info_hash": binary(request.info_hash),
                    "complete": swarm.seeders,
                    "incomplete": swarm.leechers,
                }
            )
        )

    async def _admit_address(
        self, grant: Grant, info_hash: bytes, peer_id: bytes, event: str
    ) -> None:
        """For a paid torrent, admit this socket's address to the engine (``swarm.admission``),
        as the HTTP tracker admits an announcing client's (see the module's docstring)."""
        if grant.user_id is None or not grant.private:
            return
        client = self.scope.get("client")
        await admission.record(
            await redis_client(),
            infohash=info_hash.hex(),
            user_id=grant.user_id,
            address=client_address(client[0] if client else ""),
            # Apart from the same peer id's HTTP announces: this socket's leaving must not end
            # an admission another client of the user still holds.
            member=b"ws " + peer_id + self.passkey.encode("ascii"),
            stopped=event == "stopped",
            until=grant.until,
        )

    async def _route_answer(self, request: Announce) -> None:
        if self.swarms.get(request.info_hash) != request.peer_id:
            # Only a peer admitted to the swarm on this socket received offers to answer.
            raise TrackerError("announce to the swarm before answering")
        assert request.to_peer_id is not None
        target = await peers.socket_of(request.info_hash, request.to_peer_id)
        if target is None:
            raise TrackerError("no peer with that to_peer_id")
        frame = {
            "action": "announce",
            "answer": request.answer,
            "offer_id": request.offer_id,
            "peer_id": binary(request.peer_id),
            "info_hash": binary(request.info_hash),
        }
        if not await self._relay(request.info_hash, request.to_peer_id, target, frame):
            raise TrackerError("no peer with that to_peer_id")

    async def _relay(
        self, info_hash: bytes, peer_id: bytes, target: str, frame: dict[str, Any]
    ) -> bool:
        if await peers.relay(target, json.dumps(frame)):
            return True
        # No process holds that socket (its process died): out of the swarm now rather than
        # at its entry's expiry, so that no more offers are spent on it.
        await peers.touch(info_hash, peer_id, target, leave=True)
        return False

    async def _scrape(self, request: Scrape) -> None:
        allowed = []
        for info_hash in request.info_hashes:
            decision = await authorise(self.passkey, info_hash.hex())
            if isinstance(decision, Grant):
                allowed.append(info_hash)
            elif decision.about_passkey:
                raise _Closing(decision.reason, FORBIDDEN)
            # As BEP 48: a torrent this passkey may not see is left out.
        found = await peers.counts(allowed)
        files = {
            binary(info_hash): {
                "complete": c.complete,
                "incomplete": c.incomplete,
                "downloaded": c.downloaded,
            }
            for info_hash, c in found.items()
        }
        reply = {
            "action": "scrape",
            "files": files,
            "flags": {"min_request_interval": settings.TRACKER_WS_INTERVAL_SECONDS},
        }
        await self.send(text_data=json.dumps(reply))

    async def _leave(self, info_hash: bytes) -> None:
        peer_id = self.swarms.pop(info_hash, None)
        if peer_id is not None:
            await peers.touch(info_hash, peer_id, self.socket_id, leave=True)

    async def _recheck(self) -> None:
        """Every few seconds: each swarm's access decided again (a revoked or expired grant
        ends within that), and the peer's entry refreshed, so it lives while its socket does."""
        while True:
            await asyncio.sleep(settings.TRACKER_WS_RECHECK_SECONDS)
            for info_hash, peer_id in list(self.swarms.items()):
                try:
                    await self._recheck_swarm(info_hash, peer_id)
                except _Closing as closing:
                    await self._close_with(str(closing), closing.code)
                    return
                except Exception:
                    logger.exception("WebSocket tracker recheck failed")

    async def _recheck_now(self, infohash: str) -> None:
        try:
            info_hash = bytes.fromhex(infohash)
        except ValueError:
            return
        peer_id = self.swarms.get(info_hash)
        if peer_id is None:
            return
        try:
            await self._recheck_swarm(info_hash, peer_id)
        except _Closing as closing:
            await self._close_with(str(closing), closing.code)
        except Exception:
            logger.exception("WebSocket tracker recheck failed")

    async def _recheck_swarm(self, info_hash: bytes, peer_id: bytes) -> None:
        async with self._recheck_lock:
            if self.swarms.get(info_hash) != peer_id:
                return  # left, refused or announced anew while another recheck ran
            try:
                await self._admitted(info_hash)
            except _Closing:
                raise
            except TrackerError as refusal:
                await self.send(text_data=failure(str(refusal), "announce", info_hash))
                return
            if not await peers.touch(info_hash, peer_id, self.socket_id):
                self.swarms.pop(info_hash, None)

    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        infohash = payload.get(peers.RECHECK_NOW)
        if isinstance(infohash, str):
            # A grant was revoked (``peers.recheck_now``): decided again now, in a task of its
            # own so that the hub's delivery to other sockets does not wait on the database.
            task = asyncio.get_running_loop().create_task(self._recheck_now(infohash))
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)
            return
        # A relayed offer or answer reaches the browser only while this socket is admitted to
        # that swarm: one sent just before a revocation took effect here is dropped.
        info_hash = payload.get("info_hash")
        if isinstance(info_hash, str) and info_hash.encode("latin-1") in self.swarms:
            await self.send(text_data=text)


_ROUTE: Final = re.compile(r"/ws/announce/(?P<passkey>[^/]+)/?")


class TrackerSocketRouter:
    """ASGI middleware: WebSockets to ``/ws/announce/<passkey>`` go to the tracker, the rest on
    to ``app``.

    In front of the origin check and the session middleware the pages' sockets pass through:
    the passkey in the path is the whole credential (as for the HTTP tracker), so no cookie is
    read, and WebTorrent clients send no Origin or another site's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracker = WebTorrentTracker.as_asgi()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ROUTE.fullmatch(scope["path"]) if scope["type"] == "websocket" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        routed = {**scope, "url_route": {"args": (), "kwargs": {"passkey": match["passkey"]}}}
        await self.tracker(routed, receive, send)
