-- Admits a participant to a live stream, exactly up to its cap, atomically.
-- KEYS[1] stream record (hash), KEYS[2] participant leases (zset, score = expiry ms)
-- ARGV[1] participant id, ARGV[2] lease length ms, ARGV[3] cap when the stream sets none
-- Returns {outcome, participant_count, cap}: outcome 1 admitted/renewed, 0 full, -1 not live.
-- Time comes from Redis so every registry instance agrees on which leases have ended.
if redis.call('HGET', KEYS[1], 'state') ~= 'live' then
  return {-1, 0, 0}
end
local cap = tonumber(redis.call('HGET', KEYS[1], 'max_participants') or ARGV[3])
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
local count = redis.call('ZCARD', KEYS[2])
local seated = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not seated and count >= cap then
  return {0, count, cap}
end
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[2]), ARGV[1])
return {1, redis.call('ZCARD', KEYS[2]), cap}
