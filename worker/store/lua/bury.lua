-- The job will not be sent (worker/store/claims.py): permanent refusal, no attempts left,
-- expired, or ambiguous with retries of those off. The record becomes final, a dead
-- letter keeps the job (worker/store/deadletters.py) with its attempt log, and its webhook
-- events join the outbox (lua/webhooks.lua), all in this one script.
--
-- KEYS: 1 record, 2 dead index, 3 dead entries, 4 dead reasons, 5 watch zset, 6-10 webhook
--       outbox (due, events, dead index, dead entries, dead reasons)
-- ARGV: 1 owner, 2 attempt row ('' none), 3 now ms ('' = Redis clock), 4 ttl ms,
--       5 reason, 6 last error, 7 job id, 8 the dead letter's JSON without its closing
--       brace (the attempt log is added here), 9 how long dead letters are kept (ms),
--       10 most kept (both also bound the webhook dead letters), 11 most webhooks pending,
--       then webhook events as pairs: id, entry (none when webhooks are off).
-- Returns a RecordResult.

local now = clock(ARGV[3])
local key = KEYS[1]
local f = load_record(key)
local held = still_held(key, f, ARGV[1], ARGV[2])
if held ~= 'held' then return not_held(held) end
f.log = append_row(f.log, ARGV[2])
f.status, f.dead_reason, f.last_error = Status.DEAD, ARGV[5], ARGV[6]
f.updated_at = fmt(now / 1000)
finalize(key, f, tonumber(ARGV[4]))
redis.call('ZREM', KEYS[5], ARGV[7])
add_dead_letter({KEYS[2], KEYS[3], KEYS[4]}, ARGV[7], ARGV[8] .. ',"attempts":' .. f.log .. '}',
  now, now - tonumber(ARGV[9]), tonumber(ARGV[10]))
push_events({KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]}, ARGV, 12, now, tonumber(ARGV[11]),
  {tonumber(ARGV[9]), tonumber(ARGV[10])})
return RecordResult.DONE
