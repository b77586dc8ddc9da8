-- Claim a dispatched job before its send (worker/store/claims.py): the effectively-once
-- fence. Results (ClaimResult):
--   claimed - this worker may send: the job's body and fields, and how long to wait for
--             its slot; detail 'abandoned' when a previous holder died mid-send (its
--             attempt is logged as ambiguous, "worker lost", and counts as spent)
--   final   - already succeeded or dead: acknowledge, never send again
--   stale   - an old copy: the job was handed out again since (dispatch number moved on)
--   leased  - another worker is sending it right now: this copy is a duplicate
--   unknown - no such record (expired, or never enqueued here)
--   held    - its application got a 429 since it was handed out: back to wait, unsent
-- A copy whose slot is more than `late` ms past takes a fresh slot from the limiter, so a
-- late send never bunches with the ones after it.
--
-- The job stays watched (worker/store/watchdog.py) until it is recorded: its watch entry,
-- due twice the visibility timeout after its slot, comes due after its lease has run out,
-- so a holder that died with no copy of its message left anywhere still has its job
-- taken over.
--
-- KEYS: 1 record, 2 watch zset, 3 token limiter state, 4 held scopes (scope -> until ms)
-- ARGV: 1 job id, 2 dispatch number ('' = whatever it is now), 3 owner, 4 lease ms,
--       5 now ms ('' = Redis clock), 6 slot ms (-1: none), 7 late ms, 8 token rate/s,
--       9 token burst, 10 key prefix

local now = clock(ARGV[5])
local key, id, owner = KEYS[1], ARGV[1], ARGV[3]
local h = live_fields(key, 'status', 'dispatch', 'lease_until', 'lease_owner',
  'sending_since', 'attempts', 'spent', 'application', 'body', 'expires_at', 'enqueued_at',
  'kind', 'priority', 'idempotency_key')
if not h then
  redis.call('ZREM', KEYS[2], id)
  return {ClaimResult.FINAL, final_status(key)}
end
local status = h[1]
if not status then redis.call('ZREM', KEYS[2], id); return {ClaimResult.UNKNOWN, ''} end
local dispatch = tonumber(h[2] or '0')
local expected = ARGV[2] == '' and dispatch or tonumber(ARGV[2])
local detail = ''
if status == Status.SENDING and h[4] ~= owner then
  if tonumber(h[3] or '0') > now then return {ClaimResult.LEASED, h[3]} end
  if expected ~= dispatch then return {ClaimResult.STALE, ''} end
  detail = ClaimDetail.ABANDONED  -- the holder's lease ran out: it died mid-send
  local number = tonumber(h[6] or '0') + 1
  log_worker_lost(key, number, h[5] or now)
  h[6], h[7] = tostring(number), tostring(tonumber(h[7] or '0') + 1)
elseif status ~= Status.SENDING then
  if status ~= Status.QUEUED and status ~= Status.RETRYING then return {ClaimResult.FINAL, status} end
  if expected ~= dispatch then return {ClaimResult.STALE, ''} end
  local held_until = redis.call('HGET', KEYS[4], app_scope(h[8] or ''))
  if held_until and tonumber(held_until) > now and tonumber(ARGV[6]) >= 0 then
    redis.call('HINCRBY', key, 'dispatch', 1)  -- this message can no longer claim it
    wait_again(ARGV[10], key, id)
    redis.call('ZREM', KEYS[2], id)
    return {ClaimResult.HELD, held_until}
  end
end
redis.call('HSET', key, 'status', Status.SENDING, 'lease_until', now + tonumber(ARGV[4]),
  'lease_owner', owner, 'sending_since', now, 'updated_at', fmt(now / 1000))
local wait, slot = 0, tonumber(ARGV[6])
if slot >= 0 and now > slot + tonumber(ARGV[7]) then
  local token = load_scope(KEYS[3], tonumber(ARGV[8]), tonumber(ARGV[9]), now)
  local at = earliest(token, now)
  take(token, at)
  save_scope(token, now)
  wait = at - now
elseif slot >= 0 then
  wait = math.max(0, slot - now)
end
return {ClaimResult.CLAIMED, detail, h[6] or '0', h[7] or '0', h[9] or '', h[10], h[11], h[12],
  h[8] or '', h[13], h[14] or '', fmt(wait), fmt(now)}
