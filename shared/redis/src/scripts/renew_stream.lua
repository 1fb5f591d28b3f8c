-- Extends a pod's ownership lease while it publishes the stream.
-- KEYS[1] ownership lease, KEYS[2] fencing counter
-- ARGV[1] pod id, ARGV[2] its token, ARGV[3] lease ms
-- Returns 1 when the lease is (still) the caller's, 0 when the stream is
-- someone else's now: the caller must stop publishing at once.
local mine = ARGV[1] .. '\n' .. ARGV[2]
local current = redis.call('GET', KEYS[1])
if current == mine then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if current then
  return 0
end
-- The lease lapsed (a slow renewal, or Redis lost its data). Nobody holds
-- the stream; it is still the caller's unless a newer token was handed out.
local issued = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = tonumber(ARGV[2])
if issued > token then
  return 0
end
redis.call('SET', KEYS[2], token, 'PX', 86400000)
redis.call('SET', KEYS[1], mine, 'PX', ARGV[3])
return 1
