-- The send succeeded (worker/store/claims.py): the record becomes its compact final form,
-- and, in the same script, its webhook events join the outbox (lua/webhooks.lua) and the
-- identifiers the endpoint did not know join their log (lua/unknown.lua).
--
-- KEYS: 1 record, 2 watch zset, 3-7 webhook outbox (due, events, dead index, dead entries,
--       dead reasons), 8-9 unknown identifiers (index, entries)
-- ARGV: 1 owner, 2 attempt row, 3 now ms ('' = Redis clock), 4 ttl ms, 5 message code,
--       6 job id, 7 unknown identifiers (JSON object, '' none), 8 their log entry, 9 how
--       long they are kept (ms), 10 most jobs kept, 11 most webhooks pending, 12 how long
--       webhook dead letters are kept (ms), 13 most kept, then webhook events as pairs:
--       id, entry (none when webhooks are off).
-- Returns a RecordResult (done, or late: another holder's now).

local now = clock(ARGV[3])
local f = load_record(KEYS[1])
local held = still_held(KEYS[1], f, ARGV[1], ARGV[2])
if held ~= 'held' then return not_held(held) end
f.log = append_row(f.log, ARGV[2])
f.status, f.updated_at, f.message_code = Status.SUCCEEDED, fmt(now / 1000), ARGV[5]
if ARGV[7] ~= '' then f.unknown_identifiers = ARGV[7] end
finalize(KEYS[1], f, tonumber(ARGV[4]))
redis.call('ZREM', KEYS[2], ARGV[6])
if ARGV[7] ~= '' then
  add_unknown({KEYS[8], KEYS[9]}, ARGV[6], ARGV[8], now, tonumber(ARGV[9]), tonumber(ARGV[10]))
end
push_events({KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]}, ARGV, 14, now, tonumber(ARGV[11]),
  {tonumber(ARGV[12]), tonumber(ARGV[13])})
return RecordResult.DONE
