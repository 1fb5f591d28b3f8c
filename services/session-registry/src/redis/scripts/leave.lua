-- Frees a participant's seat and remembers that it left, so its playback
-- token cannot take the seat back; leaving twice changes nothing.
-- KEYS[1] participant leases (zset), KEYS[2] participants that left (zset)
-- ARGV[1] participant id, ARGV[2] how long to remember the leave, ms
-- Returns {removed (0/1), participant_count}.
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[2]), ARGV[1])
return {removed, redis.call('ZCARD', KEYS[1])}
