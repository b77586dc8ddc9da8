-- Look at jobs handed out to workers whose claim is overdue (worker/store/watchdog.py).
-- kombu takes a message with BRPOP and records it as unacknowledged in a second command;
-- a worker killed (or a Redis that dies) in between loses it. A job still unclaimed long
-- after its slot (twice the visibility timeout: kombu has restored any message of a dead
-- worker by then) goes back to the head of its waiting list with a new dispatch number,
-- so an old copy that turns up after all cannot claim it.
--
-- KEYS: 1 watch zset. ARGV: 1 now ms ('' = Redis clock), 2 batch size, 3 key prefix.
-- Returns {looked at, put back}.

local now = clock(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local back = 0
for _, id in ipairs(due) do
  local key = record_key(ARGV[3], id)
  local h = live_fields(key, 'status')
  if h and (h[1] == Status.QUEUED or h[1] == Status.RETRYING) then
    redis.call('HINCRBY', key, 'dispatch', 1)
    wait_again(ARGV[3], key, id)
    back = back + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
if back > 0 then wake(ARGV[3]) end
return {#due, back}
