"""Revoked passkeys and refused WebRTC peers, told to every process through Redis.

The tracker and the web seed keep access decisions per process for a few seconds
(``btt_platform.fastpath.AuthCache``). A rotation drops them only in the process that rotated;
so it also leaves a marker in Redis for the old passkey, and both fast paths refuse a cached
grant of a passkey with a marker: the tracker inside its announce script (no extra round
trip), the web seed with one EXISTS per grant. The marker only needs to outlive the longest
decision cache: after that, every process asks the database, where the passkey is revoked.

The WebSocket tracker leaves a mark of its own when it takes a peer out of a swarm because its
access ended (``peer_refused``): the engine (``runswarm``) reads the marks every tick
(``refused_peers``) and drops its WebRTC connections to those peer ids, which its ip_filter
does not reliably do (see ``swarm.engine.webrtc``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any, Final

import redis
import redis.asyncio as aioredis
from django.conf import settings

# Longer than the tracker's 3 s and the web seed's 1 s decision caches, with slack for a
# process that loaded a decision just before the rotation committed.
REVOKED_HOLD_SECONDS: Final = 10

# Sorted set of "<infohash hex> <peer id hex>" scored by when the tracker refused that peer.
REFUSED_PEERS_KEY: Final = "wst:refused"
# Long enough for an engine that missed a few ticks (Redis away for a moment) to still see a
# mark; short enough that the set stays small.
REFUSED_HOLD_SECONDS: Final = 60

_client: redis.Redis | None = None
_client_url = ""
_client_lock = threading.Lock()


def revoked_key(passkey: str) -> str:
    """The Redis key marking ``passkey`` as revoked a moment ago."""
    return f"pk:revoked:{passkey}"


def mark_revoked(passkeys: Iterable[str]) -> None:
    """Tell every web process that ``passkeys`` are revoked: call it once that is committed."""
    keys = [revoked_key(passkey) for passkey in passkeys]
    if not keys:
        return
    pipe = sync_client().pipeline(transaction=False)
    for key in keys:
        pipe.set(key, "1", ex=REVOKED_HOLD_SECONDS)
    pipe.execute()


async def recently_revoked(client: aioredis.Redis, passkey: str) -> bool:
    """Whether ``passkey`` was revoked within REVOKED_HOLD_SECONDS (one EXISTS)."""
    return bool(await client.exists(revoked_key(passkey)))


def sync_client() -> redis.Redis:
    """This process's synchronous Redis client, for what sync code tells the fast paths."""
    global _client, _client_url
    with _client_lock:
        if _client is None or _client_url != settings.REDIS_URL:
            _client = redis.Redis.from_url(settings.REDIS_URL)
            _client_url = settings.REDIS_URL
        return _client


async def peer_refused(client: aioredis.Redis, info_hash: bytes, peer_id: bytes) -> None:
    """Mark WebRTC peer ``peer_id`` as taken out of the swarm of ``info_hash`` for good (its
    access ended): every engine drops its data channels to it (``refused_peers``). One round
    trip; marks older than REFUSED_HOLD_SECONDS are trimmed on the way."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(REFUSED_PEERS_KEY, "-inf", now - REFUSED_HOLD_SECONDS)
    pipe.zadd(REFUSED_PEERS_KEY, {f"{info_hash.hex()} {peer_id.hex()}": now})
    pipe.expire(REFUSED_PEERS_KEY, REFUSED_HOLD_SECONDS + 60)
    await pipe.execute()


def refused_peers() -> dict[str, frozenset[str]]:
    """The peer ids (hex) refused within REFUSED_HOLD_SECONDS, per infohash (hex): one round
    trip, for the engine's tick."""
    since = time.time() - REFUSED_HOLD_SECONDS
    marks: Any = sync_client().zrangebyscore(REFUSED_PEERS_KEY, since, "+inf")
    found: dict[str, set[str]] = {}
    for mark in marks:
        infohash, _, peer_id = bytes(mark).decode("ascii", "replace").partition(" ")
        if peer_id:
            found.setdefault(infohash, set()).add(peer_id)
    return {infohash: frozenset(peer_ids) for infohash, peer_ids in found.items()}
