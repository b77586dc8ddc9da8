-- Adding a dead letter (worker/store/deadletters.py owns `dead:*`), included by the
-- scripts that bury a job or drop a foreign item: trimmed by age and count on every insert.
-- An entry is JSON whose first key is "reason" (read back without decoding the entry).

local function reason_of(entry) return string.match(entry, '^{"reason": ?"([%w_]+)"') end

-- keys: {index, entries, reasons}; a job dead again (after a replay) replaces its entry.
local function add_dead_letter(keys, id, entry, now, oldest, max_count)
  local previous = redis.call('HGET', keys[2], id)
  if previous then redis.call('HINCRBY', keys[3], reason_of(previous), -1) end
  redis.call('HINCRBY', keys[3], reason_of(entry), 1)
  redis.call('HSET', keys[2], id, entry)
  redis.call('ZADD', keys[1], now, id)
  local old = redis.call('ZRANGEBYSCORE', keys[1], '-inf', '(' .. oldest)
  local excess = redis.call('ZCARD', keys[1]) - #old - max_count
  if excess > 0 then
    for _, dropped in ipairs(redis.call('ZRANGE', keys[1], #old, #old + excess - 1)) do
      old[#old + 1] = dropped
    end
  end
  for _, dropped in ipairs(old) do
    local gone = redis.call('HGET', keys[2], dropped)
    if gone then redis.call('HINCRBY', keys[3], reason_of(gone), -1) end
    redis.call('ZREM', keys[1], dropped)
    redis.call('HDEL', keys[2], dropped)
  end
  return #old
end
