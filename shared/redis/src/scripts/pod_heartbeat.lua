-- Records that an ingest pod is alive (and its load), or that it left; forgets
-- pods whose heartbeat stopped.
-- KEYS[1] live pods (sorted set: pod → heartbeat expiry ms), KEYS[2] pod
-- details (hash: pod → JSON {url, streams, draining})
-- ARGV[1] pod id, ARGV[2] heartbeat ttl ms, ARGV[3] details JSON ('' = the pod leaves)
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms)
for _, pod in ipairs(gone) do
  redis.call('ZREM', KEYS[1], pod)
  redis.call('HDEL', KEYS[2], pod)
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
