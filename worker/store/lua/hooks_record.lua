-- The result of one webhook delivery (worker/store/webhooks.py `record`), fenced by the
-- claim's token (its lease end): a deliverer whose lease ran out and whose event another
-- took over changes nothing.
--
-- KEYS: 1 due, 2 events, 3 dead index, 4 dead entries, 5 dead reasons, 6 gone
-- ARGV: 1 id, 2 token (lease end ms), 3 step (HookStep), 4 now ms ('' = Redis clock),
--       5 retry: due ms, 6 retry: the new entry; dead: the dead letter, 7 dead letters kept
--       ms, 8 most kept, 9 the URL's digest to mark gone ('' none), 10 what to keep for it.
-- Returns {applied (0/1), newly gone (0/1)}.

local now = clock(ARGV[4])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return {0, 0} end
local step = ARGV[3]
if step == HookStep.RETRY then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[6])
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[5]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  if step == HookStep.DEAD then
    add_dead_letter({KEYS[3], KEYS[4], KEYS[5]}, ARGV[1], ARGV[6], now,
      now - tonumber(ARGV[7]), tonumber(ARGV[8]))
  end
end
local newly_gone = 0
if ARGV[9] ~= '' then newly_gone = redis.call('HSETNX', KEYS[6], ARGV[9], ARGV[10]) end
return {1, newly_gone}
