-- Look at watched jobs whose time has come (worker/store/watchdog.py): handed out and not
-- claimed long after their slot, or claimed and not recorded long after their lease.
-- kombu takes a message with BRPOP and records it as unacknowledged in a second command;
-- a worker killed (or a Redis that dies) in between loses it; and a worker may die holding
-- a claim whose message it had already given up. By then (twice the visibility timeout)
-- kombu has restored any message of a dead worker, so such a job has nothing left to
-- finish it: it goes back to the head of its waiting list with a new dispatch number (an
-- old copy that turns up after all cannot claim it). A claim whose holder died is taken
-- over as a claim would: its send is logged as ambiguous ("worker lost").
--
-- KEYS: 1 watch zset. ARGV: 1 now ms ('' = Redis clock), 2 batch size, 3 key prefix,
--       4 grace ms.
-- Returns {looked at, put back}.

local now = clock(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local back = 0
for _, id in ipairs(due) do
  local key = record_key(ARGV[3], id)
  local h = live_fields(key, 'status', 'lease_until', 'attempts', 'sending_since')
  local status = h and h[1]
  if status == Status.SENDING and tonumber(h[2] or '0') > now then
    redis.call('ZADD', KEYS[1], tonumber(h[2]), id)  -- still being sent: at its lease's end
  elseif status == Status.SENDING or status == Status.QUEUED or status == Status.RETRYING then
    if status == Status.SENDING then
      log_worker_lost(key, tonumber(h[3] or '0') + 1, h[4] or now)
      redis.call('HSET', key, 'status', Status.RETRYING)
      redis.call('HDEL', key, 'lease_until', 'lease_owner')
    end
    redis.call('HINCRBY', key, 'dispatch', 1)
    wait_again(ARGV[3], key, id)
    redis.call('ZREM', KEYS[1], id)
    back = back + 1
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
if back > 0 then wake(ARGV[3]) end
return {#due, back}
