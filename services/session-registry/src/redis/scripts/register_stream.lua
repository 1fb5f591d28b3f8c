-- Marks a stream live and records who publishes it. Keeps the first start time,
-- so an ingest pod re-registering after a Redis restart or a handover does not
-- make a running stream look new; stamps every registration (renewed_at_ms),
-- so the reaper can tell a stream whose ingest stopped renewing it.
-- KEYS[1] stream record (hash), KEYS[2] set of live streams, KEYS[3] the
-- stream's end and KEYS[4] when its record was missed (both forgotten: it is live)
-- ARGV[1] vibe id, ARGV[2] owner ('' keeps the recorded one: the engine's
-- publish hook knows a stream is live, not which ingest pod owns it),
-- ARGV[3] creator ('' when unknown)
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('HSET', KEYS[1], 'state', 'live', 'renewed_at_ms', now_ms)
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'owner', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'creator', ARGV[3])
end
local fresh = redis.call('HSETNX', KEYS[1], 'started_at_ms', now_ms)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
return fresh
