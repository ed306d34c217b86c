"""The WebSocket tracker's swarms in Redis, and the relay of signals between web processes.

A browser's WebRTC offer must reach a socket that may be held by another web process, so
nothing about a swarm lives in a process. Per infohash, a sorted set of peer ids scored by the
time last seen and a hash peer id -> "<socket> <passkey> <seeder 0|1>"; both expire with the
swarm, and a peer not seen for 1.5 intervals (a process that died with its sockets) is pruned
at the next announce. Each socket is a group of the platform's pub/sub hub
(``btt_platform.broadcast``): relaying an offer or an answer is one PUBLISH to the socket the
swarm names, heard by whichever process holds it. Keys are ``wst:``, apart from the HTTP
tracker's ``trk:``: a browser's peer has no address to hand out, only a socket to signal.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings

from btt_platform.broadcast import channel_for, publish_now
from swarm import revocations
from swarm.tracker.peers import STALE_INTERVALS, redis_client

_COMPLETED_KEY: Final = "wst:completed"
# The key of a message to a socket's group asking it to decide a swarm's access again now:
# never a key of a relayed frame (those are built here, from fixed keys).
RECHECK_NOW: Final = "recheck_now"

# KEYS: 1 peers by last seen, 2 peer -> "<socket> <passkey> <seeder>", 3 completions,
#       4 refused peers (swarm.revocations)
# ARGV: 1 peer id (hex), 2 socket, 3 passkey, 4 seeder '1'/'0', 5 event, 6 now, 7 stale
#       cutoff, 8 ttl, 9 offers to place, 10 infohash
# Returns {-1} when another account's peer holds that peer id (so nobody can take over the
# answers routed to someone else's peer), else {seeders, leechers, {peer, socket, ...}}: the
# targets are random other peers, one per offer.
_ANNOUNCE_LUA: Final = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[7])
for _, peer in ipairs(stale) do redis.call('HDEL', KEYS[2], peer) end
if #stale > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[7]) end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held and string.match(held, '^%S+ (%S+) ') ~= ARGV[3] then return {-1} end
if ARGV[5] == 'stopped' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
  -- Admitted again (access restored): the engines no longer cut it.
  redis.call('ZREM', KEYS[4], ARGV[10] .. ' ' .. ARGV[1])
  if ARGV[5] == 'completed' then redis.call('HINCRBY', KEYS[3], ARGV[10], 1) end
end
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[8])
local seeders, leechers = 0, 0
for _, value in ipairs(redis.call('HVALS', KEYS[2])) do
  if string.sub(value, -1) == '1' then seeders = seeders + 1 else leechers = leechers + 1 end
end
local targets = {}
local wanted = tonumber(ARGV[9])
if wanted > 0 then
  local picked = redis.call('HRANDFIELD', KEYS[2], wanted + 1, 'WITHVALUES')
  for i = 1, #picked, 2 do
    if picked[i] ~= ARGV[1] and #targets < 2 * wanted then
      table.insert(targets, picked[i])
      table.insert(targets, string.match(picked[i + 1], '^(%S+) '))
    end
  end
end
return {seeders, leechers, targets}
"""

# KEYS: 1 peers by last seen, 2 peer entries. ARGV: 1 peer id, 2 socket, 3 now, 4 ttl,
# 5 '1' to drop the entry rather than refresh it. Only the socket that holds the entry may
# touch it: a peer that reconnected on a new socket is the new socket's.
_TOUCH_LUA: Final = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held or string.sub(held, 1, #ARGV[2] + 1) ~= ARGV[2] .. ' ' then return 0 end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

# KEYS: 1 peers by last seen, 2 peer entries, 3 completions. ARGV: 1 stale cutoff, 2 infohash
_COUNT_LUA: Final = """
local seeders, leechers = 0, 0
for _, peer in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')) do
  local value = redis.call('HGET', KEYS[2], peer)
  if value then
    if string.sub(value, -1) == '1' then seeders = seeders + 1 else leechers = leechers + 1 end
  end
end
return {seeders, leechers, tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')}
"""


def _keys(info_hash: bytes) -> list[str]:
    infohash = info_hash.hex()
    return [f"wst:{infohash}:z", f"wst:{infohash}:h", _COMPLETED_KEY]


def socket_group(socket_id: str) -> str:
    """The pub/sub group of one tracker socket: whatever is relayed to its peers."""
    return f"wst:{socket_id}"


def _cutoff(now: float) -> float:
    return now - STALE_INTERVALS * settings.TRACKER_WS_INTERVAL_SECONDS


def _ttl() -> int:
    return 2 * settings.TRACKER_WS_INTERVAL_SECONDS + 60


@dataclass(frozen=True)
class Swarm:
    seeders: int
    leechers: int
    targets: list[tuple[bytes, str]]  # (peer id, socket) for each offer, random others


async def announce(
    info_hash: bytes,
    peer_id: bytes,
    *,
    socket_id: str,
    passkey: str,
    seeder: bool,
    event: str,
    offers: int,
) -> Swarm | None:
    """Record the peer's announce; None when another account's peer holds ``peer_id``."""
    now = time.time()
    client = await redis_client()
    result: Any = await client.eval(
        _ANNOUNCE_LUA,
        4,
        *_keys(info_hash),
        revocations.REFUSED_PEERS_KEY,
        peer_id.hex(),
        socket_id,
        passkey,
        "1" if seeder else "0",
        event,
        repr(now),
        repr(_cutoff(now)),
        _ttl(),
        offers,
        info_hash.hex(),
    )
    if result[0] == -1:
        return None
    flat: list[bytes] = result[2]
    targets = [
        (bytes.fromhex(flat[i].decode()), flat[i + 1].decode()) for i in range(0, len(flat), 2)
    ]
    return Swarm(seeders=int(result[0]), leechers=int(result[1]), targets=targets)


async def touch(info_hash: bytes, peer_id: bytes, socket_id: str, *, leave: bool = False) -> bool:
    """Refresh (or with ``leave``, drop) this socket's peer in a swarm; False when the entry is
    no longer this socket's (pruned, or taken over by the same account's new socket)."""
    client = await redis_client()
    done: Any = await client.eval(
        _TOUCH_LUA,
        2,
        *_keys(info_hash)[:2],
        peer_id.hex(),
        socket_id,
        repr(time.time()),
        _ttl(),
        "1" if leave else "0",
    )
    return bool(done)


async def socket_of(info_hash: bytes, peer_id: bytes) -> str | None:
    """The socket of a live peer in the swarm, for an answer addressed to it."""
    zset, peers, _ = _keys(info_hash)
    pipe = (await redis_client()).pipeline(transaction=False)
    pipe.zscore(zset, peer_id.hex())
    pipe.hget(peers, peer_id.hex())
    seen, held = await pipe.execute()
    if seen is None or held is None or float(seen) < _cutoff(time.time()):
        return None
    socket_id: str = held.decode().split(" ", 1)[0]
    return socket_id


@dataclass(frozen=True)
class Counts:
    complete: int
    incomplete: int
    downloaded: int


async def counts(info_hashes: list[bytes]) -> dict[bytes, Counts]:
    """Live seeders and leechers and completions of each swarm, for a scrape."""
    if not info_hashes:
        return {}
    client = await redis_client()
    cutoff = repr(_cutoff(time.time()))
    pipe = client.pipeline(transaction=False)
    for info_hash in info_hashes:
        pipe.eval(_COUNT_LUA, 3, *_keys(info_hash), cutoff, info_hash.hex())
    replies = await pipe.execute()
    return {
        info_hash: Counts(complete=int(r[0]), incomplete=int(r[1]), downloaded=int(r[2]))
        for info_hash, r in zip(info_hashes, replies, strict=True)
    }


def recheck_now(infohash: str, passkeys: Collection[str]) -> int:
    """Ask the sockets whose peers announce ``infohash`` (hex) with any of ``passkeys`` to
    decide their access to it again at once, not at their next recheck: for whoever just
    revoked a grant (synchronous). Returns how many sockets were asked."""
    entries: Any = revocations.sync_client().hvals(f"wst:{infohash}:h")
    sockets = set()
    for entry in entries:
        socket_id, _, rest = bytes(entry).decode("ascii", "replace").partition(" ")
        if rest.partition(" ")[0] in passkeys:
            sockets.add(socket_id)
    for socket_id in sockets:
        publish_now(socket_group(socket_id), {RECHECK_NOW: infohash})
    return len(sockets)


async def relay(socket_id: str, text: str) -> bool:
    """Publish a frame to a socket, wherever it is held; False when no process holds it."""
    heard: int = await (await redis_client()).publish(channel_for(socket_group(socket_id)), text)
    return heard > 0


async def within_rate(passkey: str) -> bool:
    """Count one frame against the passkey's budget for this window; False once it is spent.

    Counted per passkey, not per socket: opening more sockets buys a flood nothing."""
    # The window opens at the passkey's first frame (SET NX with its expiry), not on a clock
    # boundary, where a flood could spend two budgets back to back.
    key = f"wst:rate:{passkey}"
    pipe = (await redis_client()).pipeline(transaction=True)
    pipe.set(key, 0, ex=settings.TRACKER_WS_RATE_WINDOW_SECONDS, nx=True)
    pipe.incr(key)
    _, used = await pipe.execute()
    return int(used) <= settings.TRACKER_WS_RATE_LIMIT
