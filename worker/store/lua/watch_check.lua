-- Look at one watched job (or batch) whose time has come (worker/store/watchdog.py).
-- Returns a WatchResult: done, leased, present or republished.
--
-- KEYS: watch, messages, outcome, queue, unacked, retries.
-- ARGV: job id (or batch id), now ms, grace ms, '1' for a batch (no outcome of its own),
--       queue depth per grace (a queued message is looked at again after that many).

local id, now, grace = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local message = redis.call('HGET', KEYS[2], id)
-- A batch has no outcome of its own: it counts as live and unleased, and its entry is
-- dropped by send_batch once every job in it is recorded.
local h = {'batch', '0'}
if ARGV[4] ~= '1' then h = redis.call('HMGET', KEYS[3], 'status', 'lease_until') end
if not h[1] or h[1] == Status.SUCCEEDED or h[1] == Status.DEAD or not message then
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  return WatchResult.DONE
end
local lease = tonumber(h[2] or '0')
if h[1] == Status.SENDING and lease > now then
  redis.call('ZADD', KEYS[1], lease + grace, id)
  return WatchResult.LEASED
end
local tag = cjson.decode(message)['properties']['delivery_tag']
local from_right = redis.call('LPOS', KEYS[4], message, 'RANK', -1)
if from_right then
  -- still queued; deep in a backlog it will not be taken soon: look again later
  redis.call('ZADD', KEYS[1], now + grace * math.max(1, from_right / tonumber(ARGV[5])), id)
  return WatchResult.PRESENT
end
if redis.call('HEXISTS', KEYS[5], tag) == 1 or redis.call('ZSCORE', KEYS[6], message) then
  redis.call('ZADD', KEYS[1], now + grace, id)
  return WatchResult.PRESENT
end
redis.call('RPUSH', KEYS[4], message)
redis.call('ZADD', KEYS[1], now + grace, id)
return WatchResult.REPUBLISHED
