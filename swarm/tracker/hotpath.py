"""An announce in one Redis round trip, when Redis holds what it takes to admit it.

In production nearly every announce is of a pair the tracker has decided before: the passkey's,
the content's and the decision's entries are kept in Redis (``entitlements``). One script then
does the whole announce atomically: it reads those entries, grants the announce exactly as
``auth.authorise_found`` would from them (``entitlements.KEPT_LUA``), records the peer and
picks the peer list (``peers.lua``) and, for a paid content, admits the peer's address for the
engine (``swarm.admission``'s script, with the keys and arguments ``admission.record`` gives
it). Three round trips became one, which took a quarter to a third off an announce's CPU time
(tracker and Redis) in bench/tracker.py: the sends, the event loop's wake-ups and Redis'
per-command work.

When the entries do not grant the announce (absent, a refusal, a grant whose ``until`` passed,
a changed fact), the script records nothing and returns them as ``entitlements.lookup`` does;
``auth.authorise_found`` then decides, from the database if need be, and the announce goes the
long way (``peers.record_announce``, ``admission.record``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import NoScriptError

from btt_platform import clock
from swarm import admission
from swarm.tracker import entitlements, peers
from swarm.tracker.protocol import AnnounceQuery, IPAddress, TrackerError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

# KEYS: 1 passkey entry, 2 content entry, 3-9 peers.lua's KEYS 1-7, 10 its KEYS 8 (an engine's
#       place in the swarm: used when the passkey is an engine's)
# ARGV: 1 decisions' key prefix, 2 now (the platform clock, Unix seconds), 3 when an admission
#       made now ends (``admission.admission_ends``, before a grant's until), 4 the peer's
#       address as text (admission's), 5 the published states, space-separated,
#       6-18 peers.lua's ARGV 1-13 (13: a user's pending transfer prefix; '' for an engine)
# Returns {1, seeders, leechers, completions, peers} .. {user id or ''} when the entries granted
# the announce; {2} when the passkey was revoked a moment ago (nothing recorded); else
# {0, passkey entry, content entry, decision entry, Redis time} as ``entitlements.lookup``
# reads them, with nothing recorded.
_MAIN_LUA: Final = """
local published = {}
for state in string.gmatch(ARGV[5], '%S+') do published[state] = true end
local now = tonumber(ARGV[2])
local p, c, a = kept_entries(KEYS[1], KEYS[2], ARGV[1])
local content_id, user_id, private, until_ = kept_grant(p, c, a, now, published)
if not content_id then
  local t = redis.call('TIME')
  return {0, p or '', c or '', a or '', t[1] .. string.format('%06d', t[2])}
end
local keys = {KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]}
local args = {}
for i = 6, 18 do args[#args + 1] = ARGV[i] end
if not user_id then
  keys[8] = KEYS[10]
  args[13] = ''
end
local swarm = announce(keys, args)
if swarm == 0 then return {2} end
if user_id and private then
  local infohash, ip = ARGV[17], ARGV[4]
  local ends = tonumber(ARGV[3])
  if until_ and until_ < ends then ends = until_ end
  admit({'adm:' .. infohash, 'adm:' .. infohash .. ':' .. user_id .. ':' .. ip,
         'adm:u:' .. user_id, 'adm:f:' .. user_id, 'adm:f:' .. user_id .. ':' .. infohash},
        {user_id .. ' ' .. ip, ARGV[6], ARGV[2], string.format('%.17g', ends),
         ARGV[12] == 'stopped' and '1' or '0', infohash .. ' ' .. ip})
end
return {1, swarm[1], swarm[2], swarm[3], swarm[4], user_id or ''}
"""

# The scripts of ``peers`` and ``admission`` become functions: their KEYS and ARGV are the
# functions' parameters, so each runs as it does alone.
SCRIPT: Final = "\n".join(
    [
        entitlements.KEPT_LUA,
        "local function announce(KEYS, ARGV)",
        peers.ANNOUNCE_LUA,
        "end",
        "local function admit(KEYS, ARGV)",
        admission.RECORD_LUA,
        "end",
        _MAIN_LUA,
    ]
)
# Sent by digest (EVALSHA): the script's text is most of an EVAL's bytes.
_SHA: Final = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()
_PUBLISHED: Final = " ".join(sorted(entitlements.PUBLISHED_STATES))


@dataclass(frozen=True)
class Answered:
    """An announce granted and recorded: the swarm to answer with."""

    swarm: peers.SwarmState
    user_id: int | None  # None: an engine's passkey


async def announce(
    client: aioredis.Redis, query: AnnounceQuery, passkey: str, address: IPAddress
) -> Answered | entitlements.Found:
    """Grant and record an announce by ``passkey`` (a valid one) from ``address`` if the kept
    entries allow it; else, with nothing recorded, what they hold (for ``authorise_found``).

    Raises ``TrackerError`` when the passkey was revoked a moment ago (``peers.record_announce``).
    """
    infohash = query.info_hash.hex()
    announce_keys, announce_args = peers.announce_script_input(
        query, passkey, address, engine=False
    )
    passkey_key, content_key, decision_prefix = entitlements.lookup_keys(passkey, infohash)
    now = clock.timestamp()
    args: list[Any] = [
        passkey_key,
        content_key,
        *announce_keys,
        peers.engine_key(infohash, passkey),
        decision_prefix,
        repr(now),
        repr(admission.admission_ends(now)),
        str(address),
        _PUBLISHED,
        *announce_args,
    ]
    try:
        raw: Any = await client.evalsha(_SHA, 10, *args)
    except NoScriptError:  # a restarted Redis: load the script (EVAL) once
        await client.script_load(SCRIPT)
        raw = await client.evalsha(_SHA, 10, *args)
    if raw[0] == 1:
        return Answered(peers.swarm_state(*raw[1:5]), int(raw[5]) if raw[5] else None)
    if raw[0] == 2:
        raise TrackerError("passkey revoked: download the torrent again")
    return entitlements.found_from(raw[1:])
