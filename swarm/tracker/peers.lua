-- One whole announce, atomically and in one round trip (swarm/tracker/peers.py runs it).
-- KEYS: 1 seeders zset, 2 leechers zset, 3 addresses hash, 4 this peer's counters hash,
--       5 completions hash, 6 pending transfer deltas hash,
--       7 the passkey's revocation marker (swarm/revocations.py),
--       8 (engines only) where this engine's current member of the swarm is kept
-- ARGV: 1 member, 2 compact address, 3 now, 4 stale cutoff, 5 swarm ttl, 6 "1" if seeding,
--       7 event, 8 numwant, 9 uploaded, 10 downloaded, 11 counters ttl, 12 infohash (hex),
--       13 pending field prefix ("" for engines: their transfers are nobody's)
-- Returns: 0 when the passkey was revoked a moment ago (a decision cached by this web process
--          before another one rotated it), with nothing recorded; else {seeders, leechers, completions, picked peers}, the peers as one string of records
--          <address length: 1 byte> <peer id: 20 bytes> <compact address: 6 or 18 bytes>, since
--          one string parses far faster on the client side than a hundred-element reply.
if redis.call('EXISTS', KEYS[7]) == 1 then return 0 end
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
if KEYS[8] then
  local previous_member = redis.call('GET', KEYS[8])
  if previous_member and previous_member ~= member then
    redis.call('ZREM', seeders, previous_member)
    redis.call('ZREM', leechers, previous_member)
    redis.call('HDEL', addrs, previous_member)
  end
  if event == 'stopped' then
    redis.call('DEL', KEYS[8])
  else
    redis.call('SET', KEYS[8], member, 'EX', ttl)
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
