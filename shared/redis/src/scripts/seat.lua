-- Seats participants on a live stream, exactly up to its cap, atomically.
-- Used for a join (mode 'join') and for the renewal that every authorized
-- media request makes (mode 'renew'); a renewal re-creates a lost lease while
-- there is room (e.g. after Redis lost its data) but never seats a participant
-- that left. A renewal may carry many participants: the edge renews all of
-- its FLV listeners of a stream in one call.
-- KEYS[1] stream record (hash), KEYS[2] participant leases (zset, score = expiry ms),
-- KEYS[3] participants that left (zset, score = when the memory of it may end, ms)
-- ARGV[1] lease length ms, ARGV[2] cap when the stream sets none,
-- ARGV[3] 'join' or 'renew', ARGV[4...] participant ids
-- Returns {participant_count, cap, outcome of each participant in order}:
-- 1 seated, 0 full, -1 not live, -2 left.
-- Time comes from Redis so every registry instance agrees on which leases ended.
local first = 4
if redis.call('HGET', KEYS[1], 'state') ~= 'live' then
  local result = {0, 0}
  for _ = first, #ARGV do
    result[#result + 1] = -1
  end
  return result
end
local cap = tonumber(redis.call('HGET', KEYS[1], 'max_participants') or ARGV[2])
local lease_ms = tonumber(ARGV[1])
local joining = ARGV[3] == 'join'
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
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
