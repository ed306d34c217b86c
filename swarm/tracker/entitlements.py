"""What the tracker needs to admit an announce, kept in Redis so that no announce needs the ORM.

Three kinds of entry, each written from the database after a miss (``fill``) and read together
in one round trip (``lookup``):

- a passkey's: its user (with ``is_active``), or that it is an engine's;
- a content's, by infohash: its id, state, whether it is paid and its creator's user;
- a decision's, by (user, content): what ``ledger.access.decide_for_use`` answered, with its
  ``until`` and the inputs it read from the passkey's user and the content.

Each web process used to keep these for 3 s, which every announce misses in production: a peer
announces each torrent every 30 minutes. Entries here live as long as a peer's entry in a swarm
(1.5 intervals), because they are dropped when what they rest on changes:

- a grant created or revoked (``ledger.services.on_grant``/``on_revoke``): the decision;
- a passkey rotated (``swarm.services.rotate_passkey``): the passkey's entry, and its
  revocation marker (``swarm.revocations``) refuses fills and announces meanwhile;
- a takedown, a restore, a health change (``swarm.services``): the content's entry.

And they are checked when used: a decision stands only while ``Access.stands_at`` the platform
clock (a rental's window, a membership period end at their ``until``, entry or not), and only
for the content and user facts it was taken with (a content's entry refreshed after a change
makes the decisions taken before it misses). Refusals are kept for ``REFUSAL_SECONDS`` only: a
grant starting later (a renewal paid ahead) tells nobody when it starts.

A fill races with a change committed while it read the database; the change's listener leaves
a tombstone with the (Redis) time of the change for ``TOMBSTONE_SECONDS``, and the fill script
writes nothing that was read before it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from redis.exceptions import NoScriptError

from ledger import access
from swarm import revocations
from swarm.models import Content

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from swarm.models import Passkey

_PREFIX: Final = "trk:auth:"
# Longer than a fill takes (one database hop), with slack for a loaded machine.
TOMBSTONE_SECONDS: Final = 10
# How long a refusal, or a content not published (being hashed, say), is kept.
REFUSAL_SECONDS: Final = 3

PUBLISHED_STATES: Final = frozenset({Content.State.SEEDING.value, Content.State.UNHEALTHY.value})

# Lua functions for the scripts that read the entries (``lookup``; ``hotpath``, which acts on
# a kept grant in the same round trip). ``kept_entries`` reads them as ``lookup`` returns them
# (false where absent). ``kept_grant`` is ``auth.authorise_found``'s grant without the
# database, for entries in the formats below: content id, user id (false for an engine),
# whether the content is paid and the grant's until (a number, or false); nil where
# ``authorise_found`` would refuse, ask the database, or might decide otherwise (a value in a
# shape it does not write): the caller then leaves the decision to ``authorise_found``.
KEPT_LUA: Final = """
local function kept_entries(passkey_key, content_key, decision_prefix)
  local p = redis.call('GET', passkey_key)
  local c = redis.call('GET', content_key)
  local a = false
  if p and c then
    local user = string.match(p, '^u:(%d+):')
    local content = string.match(c, '^(%d+):')
    if user and content then a = redis.call('GET', decision_prefix .. user .. ':' .. content) end
  end
  return p, c, a
end

local function kept_grant(p, c, a, now, published)
  if not p or not c then return nil end
  local content_id, state, private, creator = string.match(c, '^(%d+):([^:]*):([^:]*):(%d+):')
  if not content_id or not published[state] then return nil end
  if p == 'e' then return content_id, false, private == '1', false end
  local user_id, active = string.match(p, '^u:(%d+):([01])$')
  if not user_id or not a then return nil end
  local allowed, ends, inputs = string.match(a, '^([01]):([^:]*):(.*)$')
  local expected = '1' .. (private == '1' and '1' or '0') .. creator .. '/' .. active
  if allowed ~= '1' or inputs ~= expected then return nil end
  local until_ = false
  if ends ~= '' then
    until_ = tonumber(ends)
    if not until_ or until_ <= now then return nil end
  end
  return content_id, user_id, private == '1', until_
end
"""

_LOOKUP_LUA: Final = (
    KEPT_LUA
    + """
local p, c, a = kept_entries(KEYS[1], KEYS[2], ARGV[1])
local now = redis.call('TIME')
return {p or '', c or '', a or '', now[1] .. string.format('%06d', now[2])}
"""
)

# Sent by digest (EVALSHA): the script's text is most of an EVAL's bytes.
_LOOKUP_SHA: Final = hashlib.sha1(_LOOKUP_LUA.encode(), usedforsecurity=False).hexdigest()

# KEYS: 1 passkey entry, 2 its revocation marker, 3 content entry, 4 its tombstone,
#       5 decision entry (or absent), 6 its tombstone
# ARGV: 1 passkey value ('' to keep none), 2 content value, 3 decision value, 4 passkey
#       ttl, 5 content ttl, 6 decision ttl, 7 Redis time (microseconds) before the fill's read
# A tombstone holds the Redis time of its change: a read that began before it is stale.
_FILL_LUA: Final = """
local read_at = tonumber(ARGV[7])
local function fresh(tombstone)
  local changed = redis.call('GET', tombstone)
  return not changed or tonumber(changed) < read_at
end
local passkey_ok = redis.call('EXISTS', KEYS[2]) == 0
local content_ok = fresh(KEYS[4])
if ARGV[1] ~= '' and passkey_ok then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
end
if ARGV[2] ~= '' and content_ok then
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[5])
end
if KEYS[5] and ARGV[3] ~= '' and passkey_ok and content_ok and fresh(KEYS[6]) then
  redis.call('SET', KEYS[5], ARGV[3], 'EX', ARGV[6])
end
return 1
"""

# KEYS: 1 the entry to drop, 2 its tombstone. ARGV: 1 the tombstone's ttl
_FORGET_LUA: Final = """
local now = redis.call('TIME')
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], now[1] .. string.format('%06d', now[2]), 'EX', ARGV[1])
return 1
"""


def _passkey_key(key: str) -> str:
    return f"{_PREFIX}p:{key}"


def _content_key(infohash: str) -> str:
    return f"{_PREFIX}c:{infohash}"


def _content_tombstone(infohash: str) -> str:
    return f"{_PREFIX}xc:{infohash}"


def _decision_key(user_id: int, content_id: int) -> str:
    return f"{_PREFIX}a:{user_id}:{content_id}"


def _decision_tombstone(user_id: int, content_id: int) -> str:
    return f"{_PREFIX}xa:{user_id}:{content_id}"


def entry_seconds() -> int:
    """How long an entry is kept: as long as a peer's place in a swarm (``peers``), so that a
    pair announcing every interval finds its entries; changes drop them sooner."""
    return int(1.5 * settings.TRACKER_INTERVAL_SECONDS) + 60


# --- the entries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasskeyEntry:
    user_id: int | None  # None: an engine's passkey
    active: bool = True

    def encode(self) -> str:
        return "e" if self.user_id is None else f"u:{self.user_id}:{int(self.active)}"

    @classmethod
    def decode(cls, raw: bytes) -> PasskeyEntry | None:
        text = raw.decode("ascii", "replace")
        if text == "e":
            return cls(None)
        kind, _, rest = text.partition(":")
        user, _, active = rest.partition(":")
        if kind != "u" or not user.isdigit() or active not in ("0", "1"):
            return None
        return cls(int(user), active == "1")

    @classmethod
    def of(cls, passkey: Passkey) -> PasskeyEntry:
        if passkey.user is None:
            return cls(None)
        return cls(passkey.user.pk, passkey.user.is_active)


@dataclass(frozen=True)
class ContentEntry:
    content_id: int
    state: str
    private: bool
    creator_user_id: int
    state_detail: str = ""

    @property
    def published(self) -> bool:
        return self.state in PUBLISHED_STATES

    def encode(self) -> str:
        return (
            f"{self.content_id}:{self.state}:{int(self.private)}:{self.creator_user_id}:"
            f"{self.state_detail}"
        )

    @classmethod
    def decode(cls, raw: bytes) -> ContentEntry | None:
        parts = raw.decode("utf-8", "replace").split(":", 4)
        if len(parts) != 5 or not parts[0].isdigit() or not parts[3].isdigit():
            return None
        return cls(int(parts[0]), parts[1], parts[2] == "1", int(parts[3]), parts[4])

    @classmethod
    def of(cls, content: Content) -> ContentEntry:
        return cls(
            content.pk,
            content.state,
            content.is_private,
            content.creator.user_id,
            content.state_detail,
        )


def _inputs(passkey: PasskeyEntry, content: ContentEntry) -> str:
    """What ``decide`` read besides grants: a decision taken with other inputs is stale."""
    return f"{int(content.published)}{int(content.private)}{content.creator_user_id}" + (
        f"/{int(passkey.active)}"
    )


def _encode_decision(decision: access.Access, inputs: str) -> str:
    until = "" if decision.until is None else repr(decision.until.timestamp())
    return f"{int(decision.allowed)}:{until}:{inputs}"


def _decode_decision(raw: bytes) -> tuple[access.Access, str] | None:
    parts = raw.decode("ascii", "replace").split(":", 2)
    if len(parts) != 3 or parts[0] not in ("0", "1"):
        return None
    try:
        until = None if not parts[1] else datetime.fromtimestamp(float(parts[1]), UTC)
    except ValueError:
        return None
    # The reason is not kept: the tracker says "not entitled" whatever it was.
    return access.Access(parts[0] == "1", "", until=until), parts[2]


@dataclass(frozen=True)
class Found:
    """What Redis held for a passkey and an infohash; None where it held nothing usable."""

    passkey: PasskeyEntry | None
    content: ContentEntry | None
    decision: access.Access | None  # only one taken with the passkey's and content's facts
    at: int  # Redis time of the lookup (microseconds): a fill after it passes it on


async def lookup(client: aioredis.Redis, key: str, infohash: str) -> Found:
    """The entries for passkey ``key`` and ``infohash`` (hex), in one round trip."""
    try:
        return await _lookup(client, key, infohash)
    except NoScriptError:  # a restarted Redis: load the script (EVAL) once
        await client.script_load(_LOOKUP_LUA)
        return await _lookup(client, key, infohash)


def lookup_keys(key: str, infohash: str) -> tuple[str, str, str]:
    """The Redis keys of passkey ``key``'s and ``infohash``'s entries, and the prefix of the
    decisions' keys (``KEPT_LUA``'s ``kept_entries`` reads them)."""
    return _passkey_key(key), _content_key(infohash), f"{_PREFIX}a:"


async def _lookup(client: aioredis.Redis, key: str, infohash: str) -> Found:
    raw: Any = await client.evalsha(_LOOKUP_SHA, 2, *lookup_keys(key, infohash))
    return found_from(raw)


def found_from(raw: list[bytes]) -> Found:
    """The entries as ``KEPT_LUA`` read them and the Redis time: p, c, a, microseconds."""
    passkey = PasskeyEntry.decode(raw[0]) if raw[0] else None
    content = ContentEntry.decode(raw[1]) if raw[1] else None
    decision = None
    if passkey is not None and content is not None and raw[2]:
        decoded = _decode_decision(raw[2])
        if decoded is not None and decoded[1] == _inputs(passkey, content):
            decision = decoded[0]
    return Found(passkey, content, decision, int(raw[3]))


async def fill(
    client: aioredis.Redis,
    read_at: int,
    key: str,
    passkey: Passkey | None,
    infohash: str,
    content: Content | None,
    decision: access.Access | None,
) -> None:
    """Keep what the database said about ``key``, ``infohash`` and the decision between them
    (``decide_for_use``'s, read after ``read_at``, a ``Found.at``), unless a change told since
    ``read_at`` left a tombstone: then the read may predate the change."""
    passkey_entry = None
    if passkey is not None and passkey.revoked_at is None:
        passkey_entry = PasskeyEntry.of(passkey)
    content_entry = ContentEntry.of(content) if content is not None else None
    keys = [
        _passkey_key(key),
        revocations.revoked_key(key),
        _content_key(infohash),
        _content_tombstone(infohash),
    ]
    decision_value = ""
    decision_seconds = REFUSAL_SECONDS
    now = time.time()
    if (
        decision is not None
        and passkey_entry is not None
        and passkey_entry.user_id is not None
        and content_entry is not None
    ):
        assert content is not None
        keys += [
            _decision_key(passkey_entry.user_id, content.pk),
            _decision_tombstone(passkey_entry.user_id, content.pk),
        ]
        decision_value = _encode_decision(decision, _inputs(passkey_entry, content_entry))
        if decision.allowed:
            decision_seconds = entry_seconds()
            if decision.until is not None:
                # Wall-clock seconds; a moved platform clock (tests) is checked at each use.
                left = decision.until.timestamp() - now
                decision_seconds = max(1, min(decision_seconds, int(left) + 1))
    content_seconds = entry_seconds()
    if content_entry is not None and not content_entry.published:
        content_seconds = REFUSAL_SECONDS
    await client.eval(
        _FILL_LUA,
        len(keys),
        *keys,
        passkey_entry.encode() if passkey_entry is not None else "",
        content_entry.encode() if content_entry is not None else "",
        decision_value,
        entry_seconds(),
        content_seconds,
        decision_seconds,
        read_at,
    )


# --- changes, told from sync code after their commit --------------------------------------------


def forget_decision(user_id: int, content_id: int) -> None:
    """A grant of ``user_id`` for ``content_id`` was created or revoked: the next announce of
    the pair asks ``decide`` again (a ``ledger.services`` listener)."""
    _forget(_decision_key(user_id, content_id), _decision_tombstone(user_id, content_id))


def forget_content(infohash: str | None) -> None:
    """The content of ``infohash`` changed (taken down, restored, its health): its next
    announce reads it again, and the decisions taken with its old facts are not used."""
    if not infohash:
        return
    _forget(_content_key(infohash), _content_tombstone(infohash))


def _forget(entry: str, tombstone: str) -> None:
    revocations.sync_client().eval(_FORGET_LUA, 2, entry, tombstone, TOMBSTONE_SECONDS)


def forget_passkeys(keys: list[str]) -> None:
    """``keys`` were revoked or must be read afresh: their next announce asks the database.
    A revoked one's marker (``revocations.mark_revoked``) keeps fills from writing it back."""
    if keys:
        revocations.sync_client().delete(*[_passkey_key(key) for key in keys])
