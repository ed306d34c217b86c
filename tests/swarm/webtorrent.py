"""A WebTorrent peer's side of the WebSocket tracker, in the protocol's own frames (JSON text,
20-character binary strings), for the tests of ``swarm.tracker.websocket``."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import redis
import websockets
from django.conf import settings

from swarm.models import Content
from tests.fixtures.servers import AsgiServer

# A hang guard only: every wait below is for a frame the tracker sends.
FRAME_TIMEOUT = 20


def binary(value: bytes) -> str:
    return value.decode("latin-1")


def new_peer_id() -> bytes:
    # Bytes above 0x7F, as WebTorrent's random peer ids have: one character each on the wire.
    return b"-WW0208-" + bytes([0xFF, 0x80, 0xC3]) + secrets.token_bytes(9)


def info_hash_of(content: Content) -> bytes:
    assert content.infohash is not None
    return bytes.fromhex(content.infohash)


def an_offer(n: int = 0) -> dict[str, Any]:
    return {
        "offer": {"type": "offer", "sdp": f"v=0\r\no=- {n} 2 IN IP4 127.0.0.1\r\n"},
        "offer_id": binary(secrets.token_bytes(20)),
    }


async def open_socket(server: AsgiServer, passkey: str) -> websockets.ClientConnection:
    return await websockets.connect(
        f"ws://{server.host}:{server.port}/ws/announce/{passkey}", max_size=None
    )


async def next_frame(socket: websockets.ClientConnection) -> dict[str, Any]:
    text = await asyncio.wait_for(socket.recv(), FRAME_TIMEOUT)
    assert isinstance(text, str)
    frame: dict[str, Any] = json.loads(text)
    return frame


async def closed_with(socket: websockets.ClientConnection) -> int | None:
    """The close code, once the tracker has closed the socket (frames before it are read)."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), FRAME_TIMEOUT)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def announce(
    socket: websockets.ClientConnection,
    info_hash: bytes,
    peer_id: bytes,
    *,
    offers: list[dict[str, Any]] | None = None,
    event: str | None = None,
    left: int = 1000,
) -> dict[str, Any]:
    """Send an announce and read the tracker's reply to it (relayed frames are not awaited)."""
    message: dict[str, Any] = {
        "action": "announce",
        "info_hash": binary(info_hash),
        "peer_id": binary(peer_id),
        "numwant": len(offers or []),
        "uploaded": 0,
        "downloaded": 0,
        "left": left,
        "offers": offers or [],
    }
    if event is not None:
        message["event"] = event
    await socket.send(json.dumps(message))
    return await next_frame(socket)


async def scrape(socket: websockets.ClientConnection, *info_hashes: bytes) -> dict[str, Any]:
    await socket.send(
        json.dumps({"action": "scrape", "info_hash": [binary(h) for h in info_hashes]})
    )
    return await next_frame(socket)


def swarm_peer_ids(info_hash: bytes) -> set[bytes]:
    """The peer ids the tracker holds in a swarm, as Redis has them."""
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return {bytes.fromhex(str(peer)) for peer in client.hkeys(f"wst:{info_hash.hex()}:h")}


def swarm_expiry(info_hash: bytes) -> int:
    """Seconds until the swarm's peer entries lapse in Redis (negative: no expiry, no key)."""
    ttl: int = redis.Redis.from_url(settings.REDIS_URL).ttl(f"wst:{info_hash.hex()}:h")
    return ttl
