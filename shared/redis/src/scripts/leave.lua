-- Frees a participant's seat; leaving twice changes nothing.
-- KEYS[1] participant leases (zset). ARGV[1] participant id.
-- Returns {removed (0/1), participant_count}.
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
return {removed, redis.call('ZCARD', KEYS[1])}
