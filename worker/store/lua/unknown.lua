-- The log of identifiers the endpoint did not know (worker/store/unknown.py owns
-- `unknown:*`), included by succeed.lua: written with the record that reports them.
-- keys: {index, entries}; trimmed by age and count on every insert, like the dead letters,
-- and both keys expire a kept-time after the last insert.
local function add_unknown(keys, id, entry, now, kept_ms, max_count)
  redis.call('HSET', keys[2], id, entry)
  redis.call('ZADD', keys[1], now, id)
  local old = redis.call('ZRANGEBYSCORE', keys[1], '-inf', '(' .. (now - kept_ms))
  local excess = redis.call('ZCARD', keys[1]) - #old - max_count
  if excess > 0 then
    for _, dropped in ipairs(redis.call('ZRANGE', keys[1], #old, #old + excess - 1)) do
      old[#old + 1] = dropped
    end
  end
  for _, dropped in ipairs(old) do
    redis.call('ZREM', keys[1], dropped)
    redis.call('HDEL', keys[2], dropped)
  end
  redis.call('PEXPIRE', keys[1], kept_ms)
  redis.call('PEXPIRE', keys[2], kept_ms)
end
