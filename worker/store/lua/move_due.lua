-- Move due retries from the park to the queue (worker/store/park.py): each member is moved
-- exactly once, however many movers run at once.
--
-- KEYS: retries zset, queue list. ARGV: now ms, batch size. Returns how many moved.

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, message in ipairs(due) do
  -- RPUSH: workers BRPOP from the right, so a due job is next, not behind the backlog
  -- (its rate-limit slot is reserved for about now).
  redis.call('RPUSH', KEYS[2], message)
  redis.call('ZREM', KEYS[1], message)
end
return #due
