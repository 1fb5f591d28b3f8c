-- Generic cell rate algorithm (GCRA): at most `rate` requests per period with
-- bursts of `burst`, shared by every gateway instance, one key per client.
-- KEYS[1] the client's theoretical arrival time (ms), kept only while it matters
-- ARGV[1] emission interval ms (period / rate), ARGV[2] burst (requests)
-- Returns {allowed (1/0), retry_after_ms, remaining, reset_ms}.
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, allow_at - now, 0, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
local remaining = math.floor((tolerance - (new_tat - now)) / interval)
return {1, 0, remaining, new_tat - now}
