-- The send failed and will be tried again (worker/store/claims.py): the job is parked
-- until `due` (worker/store/park.py owns `retries`; the scheduler moves it back to its
-- waiting list then).
--
-- KEYS: 1 record, 2 retries zset, 3 watch zset. ARGV: 1 owner, 2 attempt row, 3 now ms ('' = Redis
--       clock), 4 due ms, 5 '1' when the failure spends an attempt ('0' not), 6 last
--       error, 7 job id.
-- Returns a RecordResult.

local now = clock(ARGV[3])
local key = KEYS[1]
local f = load_record(key)
local held = still_held(key, f, ARGV[1], ARGV[2])
if held ~= 'held' then return not_held(held) end
local log = append_row(f.log, ARGV[2])
redis.call('HSET', key, 'status', Status.RETRYING, 'log', log, 'attempts', row_count(log),
  'spent', tonumber(f.spent or '0') + tonumber(ARGV[5]), 'next_attempt_at',
  fmt(tonumber(ARGV[4]) / 1000), 'last_error', ARGV[6], 'updated_at', fmt(now / 1000))
redis.call('HDEL', key, 'lease_until', 'lease_owner')
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[7])
redis.call('ZREM', KEYS[3], ARGV[7])
return RecordResult.DONE
