-- Seats a participant on a live stream, exactly up to its cap, atomically.
-- Used for a join (mode 'join') and for the renewal that every authorized
-- media request makes (mode 'renew'); a renewal re-creates a lost lease while
-- there is room (e.g. after Redis lost its data) but never seats a participant
-- that left.
-- KEYS[1] stream record (hash), KEYS[2] participant leases (zset, score = expiry ms),
-- KEYS[3] participants that left (zset, score = when the memory of it may end, ms)
-- ARGV[1] participant id, ARGV[2] lease length ms, ARGV[3] cap when the stream sets none,
-- ARGV[4] 'join' or 'renew'
-- Returns {outcome, participant_count, cap}: 1 seated, 0 full, -1 not live, -2 left.
-- Time comes from Redis so every registry instance agrees on which leases ended.
if redis.call('HGET', KEYS[1], 'state') ~= 'live' then
  return {-1, 0, 0}
end
local cap = tonumber(redis.call('HGET', KEYS[1], 'max_participants') or ARGV[3])
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
if ARGV[4] == 'join' then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms)
  if redis.call('ZSCORE', KEYS[3], ARGV[1]) then
    return {-2, redis.call('ZCARD', KEYS[2]), cap}
  end
end
local count = redis.call('ZCARD', KEYS[2])
local seated = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not seated and count >= cap then
  return {0, count, cap}
end
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[2]), ARGV[1])
return {1, redis.call('ZCARD', KEYS[2]), cap}
