-- Move due retries from the park back to their waiting lists (worker/store/park.py), at
-- the head: they waited already. Each is moved exactly once however many movers run.
--
-- KEYS: 1 retries zset. ARGV: 1 now ms ('' = Redis clock), 2 batch size, 3 key prefix.
-- Returns how many moved.

local now = clock(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  local key = record_key(ARGV[3], id)
  local h = live_fields(key, 'status')
  if h and h[1] == Status.RETRYING then wait_again(ARGV[3], key, id) end
  redis.call('ZREM', KEYS[1], id)
end
if #due > 0 then wake(ARGV[3]) end
return #due
