"""The swarms: peers and completions in Redis, one Lua script per announce.

Peers live in Redis, never in SQL, as private trackers (Ocelot) keep them: in memory, with an
expiry. Per infohash one sorted set of seeders and one of leechers scored by the time last seen,
and a hash member -> compact address. A member is ``peer_id + passkey`` so one user cannot
replace or stop another user's peer by reusing its peer id. Entries older than 1.5 intervals
are pruned on every announce of that torrent, and the keys expire with the swarm. One Lua
script (``peers.lua``) does a whole announce, so an announce is one round trip and atomic; it
also turns the peer's reported counters into pending transfer deltas (``transfers``).
Completions (scrape's ``downloaded``) are a counter per infohash.

Redis is reached through ``redis.asyncio`` with one connection pool per event loop: connections
belong to the loop that opened them (uvicorn runs one loop, Django's sync test client a fresh
one per request).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import redis.asyncio as aioredis
from django.conf import settings
from redis.commands.core import AsyncScript

from swarm import revocations
from swarm.tracker.protocol import AnnounceQuery, IPAddress, TrackerError

if TYPE_CHECKING:
    from swarm.tracker.auth import Grant

# Pending upload/download deltas by "<passkey>:<infohash>:<u|d>", until ``transfers`` moves
# them to the database.
PENDING_KEY: Final = "trk:pending"
_COMPLETED_KEY: Final = "trk:completed"
# Counters outlive the peer entries: a client that went quiet for a while and comes back with
# its running totals must not have them counted twice.
_MIN_COUNTER_TTL: Final = 2 * 24 * 3600
# A peer that vanished without "stopped" is dropped once it missed its announce by half an
# interval (clients announce every interval, libtorrent a little early or late).
STALE_INTERVALS: Final = 1.5

# The whole announce (``hotpath`` runs it inside its script too).
ANNOUNCE_LUA: Final = Path(__file__).with_name("peers.lua").read_text(encoding="utf-8")


@dataclass
class _Connection:
    client: aioredis.Redis
    announce: AsyncScript
    closer: AsyncGenerator[None, None]


_connections: dict[asyncio.AbstractEventLoop, _Connection] = {}
_connections_lock = threading.Lock()


async def _close_with_loop(client: aioredis.Redis) -> AsyncGenerator[None, None]:
    """Parks at ``yield`` until the event loop shuts down, then closes ``client``.

    ``asyncio.run`` (uvicorn; asgiref for each request of Django's sync test client) finalises
    unfinished async generators before it closes the loop; this is the hook that lets the
    pool's connections close cleanly on their own loop instead of leaking with it.
    """
    try:
        yield
    finally:
        await client.aclose()


async def _redis() -> _Connection:
    """This event loop's Redis client (a connection pool), made on first use."""
    loop = asyncio.get_running_loop()
    with _connections_lock:
        connection = _connections.get(loop)
        if connection is not None:
            return connection
        for closed in [other for other in _connections if other.is_closed()]:
            del _connections[closed]
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        connection = _Connection(
            client=client,
            announce=client.register_script(ANNOUNCE_LUA),
            closer=_close_with_loop(client),
        )
        _connections[loop] = connection
    await anext(connection.closer)
    return connection


async def redis_client() -> aioredis.Redis:
    """This event loop's Redis client of the tracker's pool, for the transfer flush, the
    admissions and the web seed's counters."""
    return (await _redis()).client


def _swarm_keys(infohash: str) -> tuple[str, str, str]:
    return f"trk:{infohash}:s", f"trk:{infohash}:l", f"trk:{infohash}:a"


def _stale_cutoff(now: float) -> float:
    return now - STALE_INTERVALS * settings.TRACKER_INTERVAL_SECONDS


@dataclass(frozen=True)
class SwarmState:
    seeders: int
    leechers: int
    completed: int
    peers: list[tuple[bytes, bytes]]  # (peer id, compact address), seeders first


def announce_script_input(
    query: AnnounceQuery, passkey: str, address: IPAddress, *, engine: bool
) -> tuple[list[str | bytes], list[str | bytes | int]]:
    """The KEYS and ARGV of ``peers.lua`` for this announce, by a user's passkey or, with
    ``engine``, an engine's (``hotpath`` runs the same script from a larger one)."""
    infohash = query.info_hash.hex()
    member = query.peer_id + passkey.encode("ascii")
    interval = settings.TRACKER_INTERVAL_SECONDS
    now = time.time()
    seeders, leechers, addresses = _swarm_keys(infohash)
    keys: list[str | bytes] = [
        seeders,
        leechers,
        addresses,
        f"trk:{infohash}:c:".encode() + member,
        _COMPLETED_KEY,
        PENDING_KEY,
        revocations.revoked_key(passkey),
    ]
    if engine:  # where its current entry in this swarm is kept
        keys.append(engine_key(infohash, passkey))
    args: list[str | bytes | int] = [
        member,
        address.packed + query.port.to_bytes(2, "big"),
        repr(now),
        repr(_stale_cutoff(now)),
        2 * interval + 60,
        "1" if query.left == 0 else "0",
        query.event,
        min(query.numwant, settings.TRACKER_MAX_PEERS),
        str(query.uploaded),
        str(query.downloaded),
        max(_MIN_COUNTER_TTL, 4 * interval),
        infohash,
        "" if engine else f"{passkey}:{infohash}",
    ]
    return keys, args


def engine_key(infohash: str, passkey: str) -> str:
    """Where the swarm member an engine (by its passkey) holds in a swarm is kept."""
    return f"trk:{infohash}:e:{passkey}"


def swarm_state(seeders: bytes | int, leechers: bytes | int, completed: bytes | int,
                records: bytes) -> SwarmState:  # fmt: skip
    """The swarm as ``peers.lua`` returned it (its last four values)."""
    peers = []
    at = 0
    while at < len(records):
        end = at + 21 + records[at]
        peers.append((records[at + 1 : at + 21], records[at + 21 : end]))
        at = end
    return SwarmState(
        seeders=int(seeders), leechers=int(leechers), completed=int(completed), peers=peers
    )


async def record_announce(
    query: AnnounceQuery, passkey: str, address: IPAddress, grant: Grant
) -> SwarmState:
    keys, args = announce_script_input(query, passkey, address, engine=grant.user_id is None)
    result: Any = await (await _redis()).announce(keys=keys, args=args)
    if not isinstance(result, list):
        # Rotated through another web process since this one cached its decision.
        raise TrackerError("passkey revoked: download the torrent again")
    return swarm_state(*result)


@dataclass(frozen=True)
class ScrapeCounts:
    complete: int
    incomplete: int
    downloaded: int


async def scrape_counts(infohashes: Iterable[str], passkey: str) -> dict[str, ScrapeCounts]:
    """Live peers (seen within 1.5 intervals) and completions for each infohash (hex).

    Raises ``TrackerError`` when ``passkey`` was revoked a moment ago (see ``announce``).
    """
    hashes = list(infohashes)
    if not hashes:
        return {}
    cutoff = repr(_stale_cutoff(time.time()))
    pipe = (await _redis()).client.pipeline(transaction=False)
    pipe.exists(revocations.revoked_key(passkey))
    for infohash in hashes:
        seeders, leechers, _ = _swarm_keys(infohash)
        pipe.zcount(seeders, f"({cutoff}", "+inf")
        pipe.zcount(leechers, f"({cutoff}", "+inf")
    pipe.hmget(_COMPLETED_KEY, hashes)
    revoked, *replies = await pipe.execute()
    if revoked:
        raise TrackerError("passkey revoked: download the torrent again")
    completed = replies[-1]
    return {
        infohash: ScrapeCounts(
            complete=int(replies[2 * i]),
            incomplete=int(replies[2 * i + 1]),
            downloaded=int(completed[i] or 0),
        )
        for i, infohash in enumerate(hashes)
    }
