-- Overrides the participant cap of one live stream.
-- KEYS[1] stream record (hash). ARGV[1] the new cap.
-- Returns 1 when set, 0 when the stream is not live.
if redis.call('HGET', KEYS[1], 'state') ~= 'live' then
  return 0
end
redis.call('HSET', KEYS[1], 'max_participants', ARGV[1])
return 1
