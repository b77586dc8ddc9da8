-- Give a claimed job back without a send (worker/store/claims.py): the circuit opened, a
-- Redis error came before the POST, or the worker is stopping. No attempt is logged or
-- spent; the job goes back to the head of its waiting list.
--
-- KEYS: 1 record, 2 watch zset. ARGV: 1 owner, 2 now ms ('' = Redis clock), 3 key prefix, 4 job id.
-- Returns a RecordResult.

local now = clock(ARGV[2])
local key = KEYS[1]
local f = load_record(key)
local held = still_held(key, f, ARGV[1], '')
if held ~= 'held' then return not_held(held) end
local status = Status.QUEUED
if row_count(f.log) > 0 then status = Status.RETRYING end
redis.call('HSET', key, 'status', status, 'updated_at', fmt(now / 1000))
redis.call('HDEL', key, 'lease_until', 'lease_owner')
redis.call('HINCRBY', key, 'dispatch', 1)  -- the message in hand can no longer claim it
wait_again(ARGV[3], key, ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[4])
wake(ARGV[3])
return RecordResult.DONE
