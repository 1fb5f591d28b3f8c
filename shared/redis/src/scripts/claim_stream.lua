-- Makes an ingest pod the owner of a stream, or tells who owns it.
-- KEYS[1] ownership lease (string "<pod>\n<token>", expires), KEYS[2] fencing counter
-- ARGV[1] pod id, ARGV[2] lease ms, ARGV[3] the lease value the caller saw held
-- by a pod that is gone ('' when taking over nothing): only that exact lease may
-- be replaced, so two pods racing to take over cannot both win.
-- Returns {1, pod, token} when the caller owns the stream now, else {0, holder, token}.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[3] then
  local holder, token = string.match(current, '^(.*)\n(%d+)$')
  -- The caller's own lease from before (it forgot the stream, e.g. it went
  -- idle) is claimed afresh: the new token fences whatever the old one did.
  if holder ~= ARGV[1] then
    return {0, holder, tonumber(token)}
  end
end
local token = redis.call('INCR', KEYS[2])
-- Tokens only need to outgrow each other while a stream is being handed
-- around; a day without claims lets the counter go.
redis.call('PEXPIRE', KEYS[2], 86400000)
redis.call('SET', KEYS[1], ARGV[1] .. '\n' .. token, 'PX', ARGV[2])
return {1, ARGV[1], token}
