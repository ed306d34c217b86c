"""The BitTorrent HTTP tracker: announce and scrape with the user's passkey in the path.

Protocols: BEP 3 (announce), BEP 23 (compact ``peers``), BEP 7 (``peers6`` for IPv6 peers),
BEP 48 (scrape), BEP 21's ``paused`` event (libtorrent sends it for upload-only torrents).
Every answer is bencoded with HTTP 200; a refused or malformed request gets a ``failure reason``,
never an error page, because BitTorrent clients only read a bencoded body.

Where things live:
- Peers live in Redis, never in SQL (FIELD-NOTES "Trackers"): per infohash one sorted set of
  seeders and one of leechers scored by the time last seen, and a hash member -> compact address.
  A member is ``peer_id + passkey`` so one user cannot replace or stop another user's peer by
  reusing its peer id. Entries older than 1.5 intervals are pruned on every announce of that
  torrent, and the keys expire with the swarm. One Lua script does a whole announce, so an
  announce is one round trip and atomic.
- Completions (scrape's ``downloaded``) are a counter per infohash in Redis.
- Admission: an announce by a user's passkey for a paid (private) content also admits the
  announcing address for that torrent (``swarm.admission``); the engine serves paid torrents
  to admitted addresses only.
- Transfer accounting: the last counters a peer reported are kept per (passkey, infohash,
  peer id); the script turns each report into non-negative deltas (a report below the last one
  is a client restart, whose counters begin at 0 again) and adds them to a pending hash. The
  pending deltas are moved into ``TransferTotal`` in batches (``flush_transfer_totals``), so the
  database sees one UPDATE per user and content every few seconds instead of one per announce.
- Authorisation: the passkey, the content and whether that passkey's user may download that
  content (``ledger.access.decide``, the one access decision) are looked up in the database and
  kept in the process for ``AUTH_CACHE_SECONDS``: a revoked passkey, a removed content or a
  revoked grant takes effect within that many seconds, and a grant's end (``until``) at once.

Everything is async: Redis is reached through ``redis.asyncio`` with one connection pool per
event loop (connections belong to the loop that opened them; uvicorn runs one loop, Django's
sync test client a fresh one per request), and the database, on a cache miss, through one
``sync_to_async`` hop. Two entry points give the same answers: the Django views routed in
``swarm/urls.py``, and ``TrackerRouter``, an ASGI middleware in front of Django (see
``btt_platform/asgi.py``) that answers tracker GETs without Django's middleware stack.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import secrets
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic, ParamSpec, TypeVar, cast
from urllib.parse import unquote_to_bytes

import libtorrent as lt
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, transaction
from django.db.models import F, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Least
from django.http import HttpRequest, HttpResponse
from redis.commands.core import AsyncScript

from btt_platform.fastpath import ASGIApp, Receive, Scope, Send, secure_enough
from ledger import access
from swarm import admission
from swarm.models import Content, Passkey, TransferTotal

logger = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")
P = ParamSpec("P")
R = TypeVar("R")

# How long an authorisation decision is reused. Revocations take effect within this time.
AUTH_CACHE_SECONDS: Final = 3.0
_AUTH_CACHE_MAX_ENTRIES: Final = 100_000
# How often a web process moves pending transfer deltas from Redis to the database.
TRANSFER_FLUSH_SECONDS = 2.0
# BEP 3: clients that send no numwant get 50 peers (capped by TRACKER_MAX_PEERS).
DEFAULT_NUMWANT: Final = 50
MAX_QUERY_BYTES: Final = 16 * 1024
MAX_SCRAPE_HASHES: Final = 64
# Counters outlive the peer entries: a client that went quiet for a while and comes back with
# its running totals must not have them counted twice.
_MIN_COUNTER_TTL: Final = 2 * 24 * 3600
_MAX_COUNTER: Final = 2**63 - 1  # Redis integers are signed 64-bit
_PASSKEY_RE: Final = re.compile(r"[0-9A-Za-z_-]{1,64}")
_EVENTS: Final = frozenset({b"", b"started", b"completed", b"stopped", b"paused"})

_PENDING_KEY: Final = "trk:pending"
_FLUSHING_KEY: Final = "trk:pending:flushing"
_FLUSH_LOCK_KEY: Final = "trk:pending:lock"
_COMPLETED_KEY: Final = "trk:completed"


class TrackerError(Exception):
    """A request the tracker refuses; the message reaches the client as ``failure reason``."""


# --- parsing --------------------------------------------------------------------------------


def raw_query(request: HttpRequest) -> bytes:
    """The query string as the client sent it.

    Django's QueryDict decodes values as UTF-8, which corrupts the binary info_hash and peer_id.
    Under ASGI the scope holds the raw bytes; a WSGI environ holds them decoded as latin-1.
    """
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and isinstance(scope.get("query_string"), bytes):
        query: bytes = scope["query_string"]
        return query
    text: str = request.META.get("QUERY_STRING", "")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def parse_query(raw: bytes) -> dict[str, list[bytes]]:
    if len(raw) > MAX_QUERY_BYTES:
        raise TrackerError("query string too long")
    params: dict[str, list[bytes]] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        # '+' stays a '+': trackers and clients percent-encode binary values, form-style
        # '+'-for-space would corrupt them.
        params.setdefault(unquote_to_bytes(name).decode("latin-1"), []).append(
            unquote_to_bytes(value)
        )
    return params


def _single(params: dict[str, list[bytes]], name: str) -> bytes | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise TrackerError(f"{name} given more than once")
    return values[0]


def _required(params: dict[str, list[bytes]], name: str) -> bytes:
    value = _single(params, name)
    if value is None:
        raise TrackerError(f"missing {name}")
    return value


def _integer(value: bytes, name: str, minimum: int, maximum: int) -> int:
    # bytes.isdigit() accepts ASCII digits only; int() alone would take " 12", "+12", "1_2".
    if not value.isdigit() or len(value) > 20:
        raise TrackerError(f"invalid {name}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise TrackerError(f"invalid {name}")
    return number


def _flag(params: dict[str, list[bytes]], name: str) -> bool | None:
    value = _single(params, name)
    if value is None:
        return None
    if value not in (b"0", b"1"):
        raise TrackerError(f"invalid {name}")
    return value == b"1"


@dataclass(frozen=True)
class AnnounceQuery:
    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: str
    numwant: int
    compact: bool
    no_peer_id: bool


def parse_announce(raw: bytes) -> AnnounceQuery:
    """Validate an announce's parameters strictly; raises TrackerError with the reason."""
    params = parse_query(raw)
    info_hash = _required(params, "info_hash")
    if len(info_hash) != 20:
        raise TrackerError("invalid info_hash")
    peer_id = _required(params, "peer_id")
    if len(peer_id) != 20:
        raise TrackerError("invalid peer_id")
    event = _single(params, "event") or b""
    if event not in _EVENTS:
        raise TrackerError("invalid event")
    numwant = _single(params, "numwant")
    # The optional ``ip`` parameter is ignored: the peer's address is the connection's, so
    # nobody can point a swarm at a third party.
    return AnnounceQuery(
        info_hash=info_hash,
        peer_id=peer_id,
        port=_integer(_required(params, "port"), "port", 1, 65535),
        uploaded=_integer(_required(params, "uploaded"), "uploaded", 0, _MAX_COUNTER),
        downloaded=_integer(_required(params, "downloaded"), "downloaded", 0, _MAX_COUNTER),
        left=_integer(_required(params, "left"), "left", 0, _MAX_COUNTER),
        event=event.decode("ascii"),
        numwant=DEFAULT_NUMWANT if numwant is None else _integer(numwant, "numwant", 0, 10**6),
        # BEP 23 lets a tracker answer compact unless the client asks otherwise.
        compact=_flag(params, "compact") is not False,
        no_peer_id=bool(_flag(params, "no_peer_id")),
    )


def parse_scrape(raw: bytes) -> list[bytes]:
    hashes = parse_query(raw).get("info_hash", [])
    if not hashes:
        # BEP 48 allows a full scrape; a private tracker does not list what it tracks.
        raise TrackerError("missing info_hash")
    if len(hashes) > MAX_SCRAPE_HASHES:
        raise TrackerError(f"at most {MAX_SCRAPE_HASHES} info_hash per scrape")
    if any(len(h) != 20 for h in hashes):
        raise TrackerError("invalid info_hash")
    return list(dict.fromkeys(hashes))


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(remote_addr: str) -> IPAddress:
    """The peer's address: the connection's, never a header or parameter the client chose.

    Behind nginx, uvicorn's ``--proxy-headers`` (see Procfile) already puts the address from
    X-Forwarded-For into the ASGI scope for trusted proxies only (``--forwarded-allow-ips``).
    """
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        raise TrackerError("cannot tell your address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


# --- authorisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    content_id: int
    user_id: int | None  # None: a swarm engine, whose transfers are not a user's
    private: bool = False  # a paid content: the engine admits the user's address (admission)
    until: float | None = None  # a Unix time when the user's access ends (a rental, a period)


@dataclass(frozen=True)
class Refusal:
    reason: str
    # A refusal of the passkey itself fails a whole scrape; one about a torrent omits it.
    about_passkey: bool = False


class _Recent(Generic[K, V]):
    """Values kept for ``AUTH_CACHE_SECONDS``; concurrent misses of one key share one load."""

    def __init__(self) -> None:
        self._values: dict[K, tuple[float, V]] = {}
        # Per event loop: an asyncio.Event belongs to the loop that waits on it.
        self._loading: dict[tuple[asyncio.AbstractEventLoop, K], asyncio.Event] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        slot = (asyncio.get_running_loop(), key)
        while True:
            cached = self._values.get(key)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            loading = self._loading.get(slot)
            if loading is None:
                break
            # Another request is loading it: take its value, or load here if it failed.
            await loading.wait()
        done = self._loading[slot] = asyncio.Event()
        try:
            value = await load()
            if len(self._values) >= _AUTH_CACHE_MAX_ENTRIES:
                self._values.clear()  # garbage passkeys and infohashes must not grow it forever
            self._values[key] = (time.monotonic() + AUTH_CACHE_SECONDS, value)
            return value
        finally:
            del self._loading[slot]
            done.set()

    def forget(self, matches: Callable[[K], bool]) -> None:
        for key in [key for key in self._values if matches(key)]:
            del self._values[key]


# Cached separately, as announces arrive: a user's passkey serves all their torrents, a popular
# content all its users, and the check between the two is then one query at most.
_passkeys: _Recent[str, Passkey | None] = _Recent()
_contents: _Recent[str, Content | None] = _Recent()
_access: _Recent[tuple[str, str], access.Access] = _Recent()  # by (passkey, infohash)


def forget_passkey(key: str) -> None:
    """Drop what this process cached about passkey ``key`` (rotated, revoked): its next
    announce here is decided afresh. Other web processes follow within AUTH_CACHE_SECONDS."""
    _passkeys.forget(lambda cached: cached == key)
    _access.forget(lambda cached: cached[0] == key)


async def authorise(key: str, infohash: str) -> Grant | Refusal:
    """Whether passkey ``key`` may announce ``infohash`` (hex), from recent lookups."""
    if not _PASSKEY_RE.fullmatch(key):
        return Refusal("invalid passkey", about_passkey=True)
    passkey = await _passkeys.get(key, lambda: in_database(_load_passkey, key))
    if passkey is None:
        return Refusal("invalid passkey", about_passkey=True)
    if passkey.revoked_at is not None:
        return Refusal("passkey revoked: download the torrent again", about_passkey=True)
    content = await _contents.get(infohash, lambda: in_database(_load_content, infohash))
    if content is None:
        return Refusal("unregistered torrent")
    if content.state == Content.State.REMOVED:
        return Refusal(f"unregistered torrent: {content.state_detail or 'removed'}")
    if content.state not in (Content.State.SEEDING, Content.State.UNHEALTHY):
        return Refusal("torrent not available")
    if passkey.engine_id is not None:
        return Grant(content_id=content.pk, user_id=None)
    decision = await _access.get(
        (key, infohash), lambda: in_database(access.decide, passkey.user, content)
    )
    # A decision cached a moment ago still ends when the grant it rests on ends.
    until = decision.until.timestamp() if decision.until is not None else None
    if not decision.allowed or (until is not None and until <= time.time()):
        return Refusal("not entitled to this torrent")
    return Grant(
        content_id=content.pk, user_id=passkey.user_id, private=content.is_private, until=until
    )


def _load_passkey(key: str) -> Passkey | None:
    return Passkey.objects.select_related("user").filter(key=key).first()


def _load_content(infohash: str) -> Content | None:
    return Content.objects.select_related("creator").filter(infohash=infohash).first()


# --- database access ------------------------------------------------------------------------

_queued = 0
_queued_lock = threading.Lock()


async def in_database(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``function`` (ORM work) on Django's thread for sync code, minding the connection.

    Outside Django's request cycle (``TrackerRouter``) no request signals close connections,
    so this does what they do, with one difference: while more lookups are queued the
    connection stays open for them — a new one per lookup costs more than the lookup (a few
    ms on PostgreSQL) — and once none are, it is closed or kept as CONN_MAX_AGE says. A
    connection that broke (a database restart) is replaced and the work retried once.
    """
    global _queued
    with _queued_lock:
        _queued += 1
    try:
        return await sync_to_async(_run_minding_connection)(function, *args, **kwargs)
    finally:
        with _queued_lock:
            _queued -= 1


def _run_minding_connection(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:  # a caller's transaction (or a test's): leave it be
        return function(*args, **kwargs)
    try:
        return function(*args, **kwargs)
    except (InterfaceError, OperationalError):
        connection.close()
        return function(*args, **kwargs)
    finally:
        with _queued_lock:
            last = _queued <= 1
        if last:
            connection.close_if_unusable_or_obsolete()


# --- the peer store -------------------------------------------------------------------------

# KEYS: 1 seeders zset, 2 leechers zset, 3 addresses hash, 4 this peer's counters hash,
#       5 completions hash, 6 pending transfer deltas hash
# ARGV: 1 member, 2 compact address, 3 now, 4 stale cutoff, 5 swarm ttl, 6 "1" if seeding,
#       7 event, 8 numwant, 9 uploaded, 10 downloaded, 11 counters ttl, 12 infohash (hex),
#       13 pending field prefix ("" for engines: their transfers are nobody's)
# Returns: {seeders, leechers, completions, picked peers}, the peers as one string of records
#          <address length: 1 byte> <peer id: 20 bytes> <compact address: 6 or 18 bytes>, since
#          one string parses far faster on the client side than a hundred-element reply.
_ANNOUNCE_LUA: Final = """
local seeders, leechers, addrs = KEYS[1], KEYS[2], KEYS[3]
local member, addr, now, cutoff, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local seeding, event, numwant = ARGV[6] == '1', ARGV[7], tonumber(ARGV[8])

for _, set in ipairs({seeders, leechers}) do
  while true do
    local stale = redis.call('ZRANGEBYSCORE', set, '-inf', cutoff, 'LIMIT', 0, 500)
    if #stale == 0 then break end
    redis.call('ZREM', set, unpack(stale))
    redis.call('HDEL', addrs, unpack(stale))
    if #stale < 500 then break end
  end
end

-- Counters are decimal strings up to 2^63-1, beyond a Lua number's exact range: compare them
-- as strings and let HINCRBY do the exact arithmetic.
local function not_below(a, b)
  if #a ~= #b then return #a > #b end
  return a >= b
end
local prefix = ARGV[13]
if prefix ~= '' then
  local previous = redis.call('HMGET', KEYS[4], 'u', 'd')
  local reported = {ARGV[9], ARGV[10]}
  local fields = {prefix .. ':u', prefix .. ':d'}
  for i = 1, 2 do
    local new, old = reported[i], previous[i]
    if new ~= old then
      -- subtract first, so the sum only leaves the 64-bit range if the result does; pcall:
      -- absurd counters that overflow anyway lose their delta instead of failing the announce
      if old and old ~= '0' and not_below(new, old) then
        redis.pcall('HINCRBY', KEYS[6], fields[i], '-' .. old)
      end
      if new ~= '0' then redis.pcall('HINCRBY', KEYS[6], fields[i], new) end
    end
  end
  redis.call('HSET', KEYS[4], 'u', ARGV[9], 'd', ARGV[10])
  redis.call('EXPIRE', KEYS[4], ARGV[11])
end

-- An engine holds one place per swarm: its restart (new peer id, new port) replaces the
-- dead process's entry instead of leaving it to clients for 1.5 intervals.
if KEYS[7] then
  local previous_member = redis.call('GET', KEYS[7])
  if previous_member and previous_member ~= member then
    redis.call('ZREM', seeders, previous_member)
    redis.call('ZREM', leechers, previous_member)
    redis.call('HDEL', addrs, previous_member)
  end
  if event == 'stopped' then
    redis.call('DEL', KEYS[7])
  else
    redis.call('SET', KEYS[7], member, 'EX', ttl)
  end
end

local was_seeding = redis.call('ZSCORE', seeders, member)
if event == 'stopped' then
  redis.call('ZREM', seeders, member)
  redis.call('ZREM', leechers, member)
  redis.call('HDEL', addrs, member)
else
  if seeding then
    redis.call('ZADD', seeders, now, member)
    redis.call('ZREM', leechers, member)
  else
    redis.call('ZADD', leechers, now, member)
    redis.call('ZREM', seeders, member)
  end
  redis.call('HSET', addrs, member, addr)
  if event == 'completed' and not was_seeding then
    redis.call('HINCRBY', KEYS[5], ARGV[12], 1)
  end
  for _, key in ipairs({seeders, leechers, addrs}) do redis.call('EXPIRE', key, ttl) end
end

-- Each address once (a client restarted with a new peer id is two members on one address),
-- never the asking peer's own address.
local picked, count, listed = {}, 0, {[addr] = true}
local function take(set)
  local want = numwant - count
  if want <= 0 then return end
  local members
  -- a few more than wanted: the asking peer itself or its stale twins may be among them
  if redis.call('ZCARD', set) <= want + 4 then
    members = redis.call('ZRANGE', set, 0, -1)
  else
    members = redis.call('ZRANDMEMBER', set, want + 4)
  end
  if #members == 0 then return end
  local found = redis.call('HMGET', addrs, unpack(members))
  for i, m in ipairs(members) do
    local a = found[i]
    if count < numwant and m ~= member and a and not listed[a] then
      listed[a] = true
      picked[#picked + 1] = string.char(#a) .. string.sub(m, 1, 20) .. a
      count = count + 1
    end
  end
end
if event ~= 'stopped' then
  -- As opentracker answers: leechers get seeders first, then leechers; seeders get leechers
  -- first, then seeders. A seeder is given seeders too because "left=0" is not always a
  -- seeder: aria2 announces left=0 before it has a magnet's metadata, and needs someone to
  -- fetch the metadata from.
  if seeding then
    take(leechers)
    take(seeders)
  else
    take(seeders)
    take(leechers)
  end
end

return {redis.call('ZCARD', seeders), redis.call('ZCARD', leechers),
        tonumber(redis.call('HGET', KEYS[5], ARGV[12]) or '0'), table.concat(picked)}
"""

_RELEASE_LUA: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class _Connection:
    client: aioredis.Redis
    announce: AsyncScript
    release: AsyncScript
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
            announce=client.register_script(_ANNOUNCE_LUA),
            release=client.register_script(_RELEASE_LUA),
            closer=_close_with_loop(client),
        )
        _connections[loop] = connection
    await anext(connection.closer)
    return connection


async def redis_client() -> aioredis.Redis:
    """This event loop's Redis client of the tracker's pool, for the web seed's counters."""
    return (await _redis()).client


def _swarm_keys(infohash: str) -> tuple[str, str, str]:
    return f"trk:{infohash}:s", f"trk:{infohash}:l", f"trk:{infohash}:a"


# A peer that vanished without "stopped" is dropped once it missed its announce by half an
# interval (clients announce every interval, libtorrent a little early or late).
STALE_INTERVALS: Final = 1.5


def _stale_cutoff(now: float) -> float:
    return now - STALE_INTERVALS * settings.TRACKER_INTERVAL_SECONDS


@dataclass(frozen=True)
class SwarmState:
    seeders: int
    leechers: int
    completed: int
    peers: list[tuple[bytes, bytes]]  # (peer id, compact address), seeders first


async def record_announce(
    query: AnnounceQuery, passkey: str, address: IPAddress, grant: Grant
) -> SwarmState:
    infohash = query.info_hash.hex()
    member = query.peer_id + passkey.encode("ascii")
    compact_address = address.packed + query.port.to_bytes(2, "big")
    interval = settings.TRACKER_INTERVAL_SECONDS
    now = time.time()
    seeders, leechers, addresses = _swarm_keys(infohash)
    keys: list[str | bytes] = [
        seeders,
        leechers,
        addresses,
        f"trk:{infohash}:c:".encode() + member,
        _COMPLETED_KEY,
        _PENDING_KEY,
    ]
    if grant.user_id is None:  # an engine: where its current entry in this swarm is kept
        keys.append(f"trk:{infohash}:e:{passkey}")
    result: list[Any] = await (await _redis()).announce(
        keys=keys,
        args=[
            member,
            compact_address,
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
            "" if grant.user_id is None else f"{passkey}:{infohash}",
        ],
    )
    records: bytes = result[3]
    peers = []
    at = 0
    while at < len(records):
        end = at + 21 + records[at]
        peers.append((records[at + 1 : at + 21], records[at + 21 : end]))
        at = end
    return SwarmState(
        seeders=int(result[0]), leechers=int(result[1]), completed=int(result[2]), peers=peers
    )


@dataclass(frozen=True)
class ScrapeCounts:
    complete: int
    incomplete: int
    downloaded: int


async def scrape_counts(infohashes: Iterable[str]) -> dict[str, ScrapeCounts]:
    """Live peers (seen within 1.5 intervals) and completions for each infohash (hex)."""
    hashes = list(infohashes)
    if not hashes:
        return {}
    cutoff = repr(_stale_cutoff(time.time()))
    pipe = (await _redis()).client.pipeline(transaction=False)
    for infohash in hashes:
        seeders, leechers, _ = _swarm_keys(infohash)
        pipe.zcount(seeders, f"({cutoff}", "+inf")
        pipe.zcount(leechers, f"({cutoff}", "+inf")
    pipe.hmget(_COMPLETED_KEY, hashes)
    replies: list[Any] = await pipe.execute()
    completed = replies[-1]
    return {
        infohash: ScrapeCounts(
            complete=int(replies[2 * i]),
            incomplete=int(replies[2 * i + 1]),
            downloaded=int(completed[i] or 0),
        )
        for i, infohash in enumerate(hashes)
    }


# --- transfer totals ------------------------------------------------------------------------

_next_flush = 0.0


async def flush_transfer_totals() -> int:
    """Add the pending upload/download deltas to ``TransferTotal``; returns the rows touched.

    One process flushes at a time (a Redis lock). The batch is renamed aside before it is
    written and deleted after the commit, so a failed write is retried by the next flush; only
    a crash between the commit and the delete would count that batch twice.
    """
    redis = await _redis()
    token = secrets.token_hex(8)
    if not await redis.client.set(_FLUSH_LOCK_KEY, token, nx=True, ex=60):
        return 0  # another process is flushing
    try:
        if not await redis.client.exists(_FLUSHING_KEY):
            if not await redis.client.exists(_PENDING_KEY):
                return 0
            await redis.client.rename(_PENDING_KEY, _FLUSHING_KEY)
        # The client returns bytes (no decode_responses), whatever its annotation says.
        batch = cast(dict[bytes, bytes], await redis.client.hgetall(_FLUSHING_KEY))
        written = await in_database(_add_transfer_totals, batch)
        await redis.client.delete(_FLUSHING_KEY)
        return written
    finally:
        await redis.release(keys=[_FLUSH_LOCK_KEY], args=[token])


def _add_transfer_totals(batch: dict[bytes, bytes]) -> int:
    by_key: dict[tuple[str, str], list[int]] = {}
    for field, value in batch.items():
        try:
            passkey, infohash, direction = field.decode("ascii").split(":")
        except ValueError:
            logger.error("dropping a malformed pending transfer field %r", field)
            continue
        amounts = by_key.setdefault((passkey, infohash), [0, 0])
        amounts[0 if direction == "u" else 1] += max(int(value), 0)
    # Passkeys and contents are looked up now: deltas of a passkey or content deleted since
    # are dropped. A revoked passkey still names its user, whose bytes they were.
    users = dict(
        Passkey.objects.filter(
            key__in={passkey for passkey, _ in by_key}, user__isnull=False
        ).values_list("key", "user_id")
    )
    contents = dict(
        Content.objects.filter(infohash__in={infohash for _, infohash in by_key}).values_list(
            "infohash", "pk"
        )
    )
    totals: dict[tuple[int, int], list[int]] = {}
    for (passkey, infohash), (uploaded, downloaded) in by_key.items():
        user_id, content_id = users.get(passkey), contents.get(infohash)
        if user_id is None or content_id is None or not (uploaded or downloaded):
            continue
        amounts = totals.setdefault((user_id, content_id), [0, 0])
        amounts[0] += uploaded
        amounts[1] += downloaded
    if not totals:
        return 0
    with transaction.atomic():
        TransferTotal.objects.bulk_create(
            [TransferTotal(user_id=user, content_id=content) for user, content in totals],
            ignore_conflicts=True,
        )
        for (user_id, content_id), (uploaded, downloaded) in totals.items():
            TransferTotal.objects.filter(user_id=user_id, content_id=content_id).update(
                uploaded=_saturating_add("uploaded", uploaded),
                downloaded=_saturating_add("downloaded", downloaded),
            )
    return len(totals)


def _saturating_add(field: str, amount: int) -> Combinable:
    """``field + amount`` capped at the column's maximum, computed without overflowing it.

    Counters come from clients; a forged huge one must not make the whole batch fail (and
    stay pending forever) with "bigint out of range", nor turn SQLite's integer into a float.
    """
    amount = min(amount, _MAX_COUNTER)
    return Least(F(field), Value(_MAX_COUNTER - amount)) + amount


async def _maybe_flush_transfer_totals() -> None:
    global _next_flush
    now = time.monotonic()
    if now < _next_flush:
        return
    _next_flush = now + TRANSFER_FLUSH_SECONDS
    try:
        await flush_transfer_totals()
    except Exception:
        logger.exception("flushing transfer totals failed; the deltas stay pending")


# --- answers --------------------------------------------------------------------------------

Payload = dict[bytes, Any]


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
    reply: bytes = lt.bencode(payload)
    return reply


async def announce(passkey: str, query: bytes, remote_addr: str) -> bytes:
    """Answer an announce: ``query`` is the raw query string, ``remote_addr`` the peer's IP."""
    return await _answer(passkey, lambda: _announce(passkey, query, remote_addr))


async def scrape(passkey: str, query: bytes) -> bytes:
    return await _answer(passkey, lambda: _scrape(passkey, query))


async def _announce(passkey: str, raw: bytes, remote_addr: str) -> Payload:
    query = parse_announce(raw)
    address = client_address(remote_addr)
    decision = await authorise(passkey, query.info_hash.hex())
    if isinstance(decision, Refusal):
        raise TrackerError(decision.reason)
    swarm = await record_announce(query, passkey, address, decision)
    if decision.user_id is not None and decision.private:
        # The engine uploads a paid torrent only to addresses admitted here.
        await admission.record(
            (await _redis()).client,
            infohash=query.info_hash.hex(),
            user_id=decision.user_id,
            address=address,
            member=query.peer_id + passkey.encode("ascii"),
            stopped=query.event == "stopped",
            until=decision.until,
        )
    if decision.user_id is not None:
        await _maybe_flush_transfer_totals()
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
        payload[b"peers"] = [_peer_dict(peer_id, a, query.no_peer_id) for peer_id, a in swarm.peers]
    return payload


def _peer_dict(peer_id: bytes, compact_address: bytes, no_peer_id: bool) -> Payload:
    peer: Payload = {
        b"ip": str(ipaddress.ip_address(compact_address[:-2])).encode("ascii"),
        b"port": int.from_bytes(compact_address[-2:], "big"),
    }
    if not no_peer_id:
        peer[b"peer id"] = peer_id
    return peer


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
    counts = await scrape_counts(allowed)
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
_ODD_PAYLOAD: Payload = {b"failure reason": b"unknown tracker path or method"}
_ODD_REPLY: Final = lt.bencode(_ODD_PAYLOAD)


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
                await self._reply(send, bytes(_ODD_REPLY))
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
