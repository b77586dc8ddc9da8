-- Enqueue jobs (producers/producer.py): for each, its record (worker/store/claims.py
-- changes it from then on; its shape is producers/outcomes.py) with the request exactly as
-- it will be POSTed, and its id at the end of its waiting list (one per priority and
-- application; worker/store/waiting.py hands them out under the budget). One script: a
-- job is never waiting without a record, nor recorded without waiting.
-- An idempotency key already taken inside the window gives the first job's id instead,
-- and nothing is written for that job.
--
-- KEYS: 1 the dispatchers' wake-up list
-- ARGV: 1 now ms ('' = Redis clock), 2 key prefix, 3 outcome ttl ms, 4 idempotency window
--       ms, 5 priority, 6 '1' to skip a job whose record exists (adopting a message
--       published by another tool), then 6 per job: id, idempotency key ('' = none),
--       application, kind, expires in ms, body
-- Returns per job the id it stands under ('' for a skipped one).

local now = clock(ARGV[1])
local prefix, ttl, window, prio = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local out = {}
for at = 7, #ARGV, 6 do
  local id, idem, app = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local key = prefix .. '{' .. id .. '}:outcome'
  local first = nil
  if ARGV[6] == '1' and redis.call('EXISTS', key) == 1 then first = '' end
  if not first and idem ~= '' then
    first = redis.call('SET', prefix .. 'idem:{' .. idem .. '}', id, 'NX', 'GET', 'PX', window)
    if first == false then first = nil end
  end
  if first then
    out[#out + 1] = first
  else
    redis.call('HSET', key, 'status', Status.QUEUED, 'kind', ARGV[at + 3], 'application', app,
      'priority', prio, 'enqueued_at', fmt(now / 1000),
      'expires_at', fmt((now + tonumber(ARGV[at + 4])) / 1000), 'updated_at', fmt(now / 1000),
      'body', ARGV[at + 5])
    if idem ~= '' then redis.call('HSET', key, 'idempotency_key', idem) end
    redis.call('PEXPIRE', key, ttl)
    push_waiting(prefix, prio, app_scope(app), app, id, false)
    out[#out + 1] = id
  end
end
redis.call('LPUSH', KEYS[1], '1')
redis.call('LTRIM', KEYS[1], 0, 0)
return out
