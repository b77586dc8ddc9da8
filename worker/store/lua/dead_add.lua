-- Add a dead letter, trimming the store by age and count (worker/store/deadletters.py).
-- The attempt log is copied in: outcomes expire sooner. A job dead again (after a replay)
-- replaces its entry, and its count.
--
-- KEYS: index, entries, attempts list (read only), reasons.
-- ARGV: job id, entry json, now ms, oldest allowed ms, max count. Returns how many dropped.

local entry = cjson.decode(ARGV[2])
local previous = redis.call('HGET', KEYS[2], ARGV[1])
if previous then redis.call('HINCRBY', KEYS[4], cjson.decode(previous)['reason'], -1) end
redis.call('HINCRBY', KEYS[4], entry['reason'], 1)
local log = redis.call('LRANGE', KEYS[3], 0, -1)
local attempts = {}
for i, item in ipairs(log) do attempts[i] = cjson.decode(item) end
entry['attempts'] = attempts
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(entry))
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
local excess = redis.call('ZCARD', KEYS[1]) - #old - tonumber(ARGV[5])
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], #old, #old + excess - 1)
  for _, id in ipairs(oldest) do table.insert(old, id) end
end
for _, id in ipairs(old) do
  local dropped = redis.call('HGET', KEYS[2], id)
  if dropped then redis.call('HINCRBY', KEYS[4], cjson.decode(dropped)['reason'], -1) end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #old
