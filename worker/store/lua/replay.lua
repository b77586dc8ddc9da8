-- Send a dead job again (worker/store/deadletters.py `replay`): the same id, idempotency
-- key, priority and attempt log, a fresh budget and deadline, the request as stored. The
-- record is written whole (the outcome may have expired long before the dead letter: the
-- job is then not lost), and the dispatch number starts at the replay's time in ms, past
-- any a copy of the job's old messages could carry.
--
-- KEYS: 1 record, 2 dead index, 3 dead entries, 4 dead reasons
-- ARGV: 1 job id, 2 key prefix, 3 now ms ('' = Redis clock), 4 ttl ms, 5 priority,
--       6 application, 7 kind, 8 expires in ms, 9 body, 10 idempotency key,
--       11 attempt log (JSON rows), 12 attempts so far
-- Returns 1, or 0 when the dead letter is gone (replayed or purged meanwhile).

local now = clock(ARGV[3])
local entry = redis.call('HGET', KEYS[3], ARGV[1])
if not entry then return 0 end
-- First a write Redis refuses when full: then a full Redis refuses the whole replay.
redis.call('HINCRBY', KEYS[4], reason_of(entry), -1)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'status', Status.QUEUED, 'kind', ARGV[7], 'application', ARGV[6],
  'priority', ARGV[5], 'enqueued_at', fmt(now / 1000),
  'expires_at', fmt((now + tonumber(ARGV[8])) / 1000), 'updated_at', fmt(now / 1000),
  'body', ARGV[9], 'log', ARGV[11], 'attempts', ARGV[12], 'dispatch', now,
  'replayed_at', fmt(now / 1000))
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'idempotency_key', ARGV[10]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
push_waiting(ARGV[2], ARGV[5], app_scope(ARGV[6]), ARGV[6], ARGV[1], false)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
wake(ARGV[2])
return 1
