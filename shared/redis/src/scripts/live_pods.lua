-- The ingest pods whose heartbeat has not expired, with their details.
-- KEYS[1] live pods (sorted set), KEYS[2] pod details (hash)
-- Returns a flat list: pod, details JSON, pod, details JSON…
local clock = redis.call('TIME')
local now_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms, '+inf')
local answer = {}
for _, pod in ipairs(live) do
  local details = redis.call('HGET', KEYS[2], pod)
  if details then
    table.insert(answer, pod)
    table.insert(answer, details)
  end
end
return answer
