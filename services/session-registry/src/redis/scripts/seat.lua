-- Seats participants on a live stream, exactly up to its cap, atomically.
-- Used for a join (mode 'join') and for the renewal that every authorized
-- media request makes (mode 'renew'); a renewal re-creates a lost lease while
-- there is room (e.g. after Redis lost its data) but never seats a participant
-- that left. A renewal may carry many participants: the edge renews all of
-- its FLV listeners of a stream in one call.
-- A renewal that finds neither the stream's record nor a record of its end
-- means Redis lost its data (a restart without persistence, a failover): for
-- ARGV[4] ms from the first such renewal the answer is "unconfirmed" (keep
-- playing) rather than "not live", so listeners outlast the wait until the
-- owning ingest pod registers the stream again.
-- KEYS[1] stream record (hash), KEYS[2] participant leases (zset, score = expiry ms),
-- KEYS[3] participants that left (zset, score = when the memory of it may end, ms),
-- KEYS[4] the stream's end (string), KEYS[5] when its record was first missed (string, ms)
-- ARGV[1] lease length ms, ARGV[2] cap when the stream sets none,
-- ARGV[3] 'join' or 'renew', ARGV[4] how long a missing record is unconfirmed (ms),
-- ARGV[5...] participant ids
-- Returns {participant_count, cap, outcome of each participant in order}:
-- 1 seated, 0 full, -1 not live, -2 left, -3 unconfirmed.
-- Time comes from Redis so every registry instance agrees on which leases ended.
local first = 5
local joining = ARGV[3] == 'join'
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'live' then
  local outcome = -1
  if not state and not joining and redis.call('EXISTS', KEYS[4]) == 0 then
    local grace_ms = tonumber(ARGV[4])
    local since = tonumber(redis.call('GET', KEYS[5]))
    if not since then
      since = now_ms
      redis.call('SET', KEYS[5], since, 'PX', 2 * grace_ms + 1)
    end
    if now_ms - since < grace_ms then
      outcome = -3
    end
  end
  local result = {0, 0}
  for _ = first, #ARGV do
    result[#result + 1] = outcome
  end
  return result
end
local cap = tonumber(redis.call('HGET', KEYS[1], 'max_participants') or ARGV[2])
local lease_ms = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
if not joining then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms)
end
local result = {0, cap}
for i = first, #ARGV do
  local participant = ARGV[i]
  local outcome = 1
  if joining then
    redis.call('ZREM', KEYS[3], participant)
  elseif redis.call('ZSCORE', KEYS[3], participant) then
    outcome = -2
  end
  if outcome == 1 and not redis.call('ZSCORE', KEYS[2], participant)
      and redis.call('ZCARD', KEYS[2]) >= cap then
    outcome = 0
  end
  if outcome == 1 then
    redis.call('ZADD', KEYS[2], now_ms + lease_ms, participant)
  end
  result[#result + 1] = outcome
end
result[1] = redis.call('ZCARD', KEYS[2])
return result
