-- Enqueue one message carrying n jobs (producers/producer.py). Idempotency keys are checked
-- first: if any is taken, nothing is written and the script returns {index, first job id,
-- ...} of those jobs, for the caller to rebuild the message without them.
-- Writes the message's first watchdog entry too (worker/store/watchdog.py owns those keys):
-- the message and its watch entry must appear together, or a lost message goes unseen.
--
-- KEYS: queue, watch zset, watch messages hash, then per job: outcome hash, idem key
-- ARGV: watch id, message, first watchdog look (ms), outcome ttl ms, n, then per job:
--       job id, idempotency ttl ms ('' = no key), field count, field, value, ...

local n = tonumber(ARGV[5])
local taken = {}
local at = 6
for i = 1, n do
  if ARGV[at + 1] ~= '' then
    local first = redis.call('GET', KEYS[3 + 2 * i])
    if first then taken[#taken + 1] = i - 1; taken[#taken + 1] = first end
  end
  at = at + 3 + tonumber(ARGV[at + 2])
end
if #taken > 0 then return taken end
at = 6
for i = 1, n do
  local count = tonumber(ARGV[at + 2])
  if ARGV[at + 1] ~= '' then
    redis.call('SET', KEYS[3 + 2 * i], ARGV[at], 'PX', ARGV[at + 1])
  end
  redis.call('HSET', KEYS[2 + 2 * i], unpack(ARGV, at + 3, at + 2 + count))
  redis.call('PEXPIRE', KEYS[2 + 2 * i], ARGV[4])
  at = at + 3 + count
end
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {}
