-- Gives up a pod's ownership lease, if it is still that pod's.
-- KEYS[1] ownership lease; ARGV[1] pod id, ARGV[2] its token
if redis.call('GET', KEYS[1]) == ARGV[1] .. '\n' .. ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
