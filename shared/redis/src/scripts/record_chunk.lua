-- Remembers a stream's last accepted X-Chunk-Seq beside its ownership, so
-- the pod that takes the stream over answers a retry of that chunk as a
-- retry instead of playing it twice. Only the current owner's write counts:
-- a pod that lost the stream cannot overwrite its successor's record.
-- KEYS[1] owner (string "<pod>\n<token>"), KEYS[2] last chunk (string "<seq> <bytes>")
-- ARGV[1] the writer's lease as stored, ARGV[2] "<seq> <bytes>", ARGV[3] how long to keep it (ms)
-- Returns 1 when recorded, 0 when the writer does not own the stream.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
