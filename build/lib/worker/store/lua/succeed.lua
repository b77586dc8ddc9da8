-- The send succeeded (worker/store/claims.py): the record becomes its compact final form.
--
-- KEYS: 1 record, 2 watch zset. ARGV: 1 owner, 2 attempt row, 3 now ms ('' = Redis clock), 4 ttl ms,
--       5 message code, 6 job id. Returns a RecordResult (done, or late: another holder's now).

local now = clock(ARGV[3])
local f = load_record(KEYS[1])
local held = still_held(KEYS[1], f, ARGV[1], ARGV[2])
if held ~= 'held' then return not_held(held) end
f.log = append_row(f.log, ARGV[2])
f.status, f.updated_at, f.message_code = Status.SUCCEEDED, fmt(now / 1000), ARGV[5]
finalize(KEYS[1], f, tonumber(ARGV[4]))
redis.call('ZREM', KEYS[2], ARGV[6])
return RecordResult.DONE
