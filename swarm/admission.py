"""Which peer addresses the engine lets in for paid (private) torrents.

The private flag only turns off DHT, PEX and LSD: libtorrent uploads to any peer that connects
with the infohash, passkey or not: a peer connection carries no passkey, only the announce
does. So the
tracker's decision has to reach the engine: when the tracker authorises an announce by a user's
passkey for a private content, it records the announcing address here as admitted for that
torrent, and the engine (``runswarm``) turns the admitted addresses of every paid torrent it
seeds into libtorrent's session ``ip_filter``, an allow-list its private torrents obey.

Redis keys (``<infohash>`` is hex, ``<ip>`` the address as text):

- ``adm:<infohash>`` — sorted set of ``"<user id> <ip>"`` scored by when the admission ends:
  the engine reads the addresses whose score is in the future.
- ``adm:<infohash>:<user id>:<ip>`` — sorted set of the swarm members (peer id + passkey) of
  that user announcing from that address, scored the same way: a ``stopped`` from one client
  ends the admission only when no other live client of the user holds it.
- ``adm:u:<user id>`` — set of ``"<infohash> <ip>"``: what ``forget`` takes back.
- ``adm:f:<user id>`` and ``adm:f:<user id>:<infohash>`` — set by ``forget`` for a few
  seconds: the tracker reuses an access decision for ``tracker.auth.AUTH_CACHE_SECONDS``, so
  an announce in that window must not admit the user again.

An admission lasts 1.5 announce intervals from the last announce (the tracker's stale cutoff)
or until the ``until`` its recorder passes, whichever comes first.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable
from typing import Any, Final

import redis
import redis.asyncio as aioredis
from django.conf import settings

from btt_platform import clock

# How long ``forget`` keeps a user from being admitted again: longer than the tracker's
# decision cache (swarm.tracker.auth.AUTH_CACHE_SECONDS, 3 s), plus slack for a request in
# flight.
FORGET_HOLD_SECONDS: Final = 10
ADMISSION_INTERVALS: Final = 1.5

# KEYS: 1 adm:<ih>, 2 adm:<ih>:<uid>:<ip>, 3 adm:u:<uid>, 4 adm:f:<uid>, 5 adm:f:<uid>:<ih>
# ARGV: 1 "<uid> <ip>", 2 swarm member, 3 now, 4 admitted until, 5 "1" for a stopped event,
#       6 "<ih> <ip>"
# Returns 1 when the address is admitted after this call, else 0.
# Public for the tracker, which runs it inside its one-round-trip announce script
# (swarm.tracker.hotpath) with the same keys and arguments as ``record``.
RECORD_LUA: Final = """
local now, ends = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  if redis.call('ZCARD', KEYS[2]) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[1])
    redis.call('SREM', KEYS[3], ARGV[6])
    return 0
  end
  return 1
end
if ends <= now or redis.call('EXISTS', KEYS[4], KEYS[5]) > 0 then return 0 end
local ttl = math.ceil(ends - now) + 60
local function extend(key)
  local left = redis.call('TTL', key)
  if left < ttl then redis.call('EXPIRE', key, ttl) end
end
redis.call('ZADD', KEYS[2], ends, ARGV[2])
redis.call('ZADD', KEYS[1], ends, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[6])
for i = 1, 3 do extend(KEYS[i]) end
return 1
"""

# KEYS: 1 adm:u:<uid>, 2 the forget marker (adm:f:<uid> or adm:f:<uid>:<ih>)
# ARGV: 1 user id, 2 infohash or "" for all, 3 marker ttl
# Returns the number of (torrent, address) admissions taken back.
_FORGET_LUA: Final = """
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
local removed = 0
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local ih, ip = string.match(entry, '^(%S+) (%S+)$')
  if ih and (ARGV[2] == '' or ih == ARGV[2]) then
    removed = removed + redis.call('ZREM', 'adm:' .. ih, ARGV[1] .. ' ' .. ip)
    redis.call('DEL', 'adm:' .. ih .. ':' .. ARGV[1] .. ':' .. ip)
    redis.call('SREM', KEYS[1], entry)
  end
end
return removed
"""


def _torrent_key(infohash: str) -> str:
    return f"adm:{infohash}"


def admission_ends(now: float, until: float | None = None) -> float:
    """When an admission recorded at ``now`` ends: 1.5 intervals later, or ``until`` if sooner."""
    ends = now + ADMISSION_INTERVALS * settings.TRACKER_INTERVAL_SECONDS
    return ends if until is None else min(ends, until)


async def record(
    client: aioredis.Redis,
    *,
    infohash: str,
    user_id: int,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    member: bytes,
    stopped: bool,
    until: float | None = None,
) -> bool:
    """Admit ``address`` for ``infohash`` (hex) on behalf of ``user_id`` (one Redis round trip).

    For the tracker, after it authorised an announce by a user's passkey for a private content:
    ``member`` is the announcing swarm member (peer id + passkey), ``stopped`` whether it left.
    ``until`` (a Unix time) ends the admission sooner than 1.5 intervals, e.g. when the user's
    access ends. Returns whether the address is admitted after the call.
    """
    ip = str(address)
    now = clock.timestamp()
    result: Any = await client.eval(
        RECORD_LUA,
        5,
        _torrent_key(infohash),
        f"adm:{infohash}:{user_id}:{ip}",
        f"adm:u:{user_id}",
        f"adm:f:{user_id}",
        f"adm:f:{user_id}:{infohash}",
        f"{user_id} {ip}",
        member,
        repr(now),
        repr(admission_ends(now, until)),
        "1" if stopped else "0",
        f"{infohash} {ip}",
    )
    return bool(result)


# --- synchronous side: the engine, and whoever revokes access ----------------------------------

_client: redis.Redis | None = None
_client_url = ""
_client_lock = threading.Lock()


def _sync_client() -> redis.Redis:
    global _client, _client_url
    with _client_lock:
        if _client is None or _client_url != settings.REDIS_URL:
            _client = redis.Redis.from_url(settings.REDIS_URL)
            _client_url = settings.REDIS_URL
        return _client


def forget(user_id: int, infohash: str | None = None) -> int:
    """Take back the admissions of ``user_id``: all of them, or those for ``infohash`` (hex).

    Call it after access ends (a grant revoked, a passkey rotated), once the change is
    committed: the engine drops the user's addresses within about a second (their connections
    too), unless another admitted user shares the address. For the next
    ``FORGET_HOLD_SECONDS`` the tracker admits the user (for that torrent) no more, so an
    announce answered from its short-lived decision cache cannot undo this. Returns the number
    of (torrent, address) admissions taken back.
    """
    marker = f"adm:f:{user_id}" if infohash is None else f"adm:f:{user_id}:{infohash}"
    result: Any = _sync_client().eval(
        _FORGET_LUA,
        2,
        f"adm:u:{user_id}",
        marker,
        str(user_id),
        infohash or "",
        str(FORGET_HOLD_SECONDS),
    )
    return int(result)


def admitted(infohashes: Iterable[str]) -> dict[str, frozenset[str]]:
    """The addresses admitted now for each of ``infohashes`` (hex), in one round trip."""
    hashes = list(infohashes)
    if not hashes:
        return {}
    now = repr(clock.timestamp())
    pipe = _sync_client().pipeline(transaction=False)
    for infohash in hashes:
        pipe.zrangebyscore(_torrent_key(infohash), f"({now}", "+inf")
    replies: list[list[bytes]] = pipe.execute()
    result: dict[str, frozenset[str]] = {}
    for infohash, entries in zip(hashes, replies, strict=True):
        addresses = set()
        for entry in entries:
            _, _, ip = entry.decode("ascii", "replace").partition(" ")
            try:
                addresses.add(str(ipaddress.ip_address(ip)))
            except ValueError:
                continue  # never let a garbled entry into the filter
        result[infohash] = frozenset(addresses)
    return result


def clear_client() -> None:
    """Forget the cached client (a test that changed ``REDIS_URL``, a forked process)."""
    global _client
    with _client_lock:
        _client = None
