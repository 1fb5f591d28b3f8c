-- Counts unexpired leases without modifying anything (safe on replicas).
-- KEYS[1] participant leases (zset).
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now_ms, '+inf')
