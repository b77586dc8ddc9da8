-- Claim a job before a send (worker/store/claims.py). Returns {result, detail} (and for
-- `claimed`, the attempt count the send goes on from):
--   claimed - this worker may send; detail = 'abandoned' when a previous holder died mid-send
--   final   - already succeeded or dead: acknowledge, never send again
--   stale   - the message is an old copy (attempt count moved on): drop it
--   leased  - another worker is sending right now; detail = lease end (ms)
-- A takeover moves the count on without a new message, so the message its holder keeps
-- carries the older count. If that holder dies too, its redelivered copy is the only one
-- left: a job in `sending` whose lease has run out is taken over by any copy, never stale.
--
-- KEYS: outcome hash, attempts list
-- ARGV: expected attempt count, now ms, lease ms, owner, ttl ms, initial field, value, ...

local h = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'lease_until', 'sending_since',
  'lease_owner')
local now = tonumber(ARGV[2])
if not h[1] then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  h[1] = Status.QUEUED; h[2] = '0'
end
if h[1] == Status.SUCCEEDED or h[1] == Status.DEAD then return {ClaimResult.FINAL, h[1]} end
local attempts = tonumber(h[2] or '0')
-- the same delivery retrying this script after a dropped connection: still ours
if h[1] == Status.SENDING and h[5] == ARGV[4] then
  return {ClaimResult.CLAIMED, '', tostring(attempts)}
end
local orphaned = h[1] == Status.SENDING and tonumber(h[3] or '0') <= now
if attempts ~= tonumber(ARGV[1]) and not orphaned then
  return {ClaimResult.STALE, tostring(attempts)}
end
local detail = ''
if h[1] == Status.SENDING then
  if tonumber(h[3] or '0') > now then return {ClaimResult.LEASED, h[3]} end
  detail = 'abandoned'
  local lost = cjson.encode({number = attempts + 1, started_at = tonumber(h[4] or '0') / 1000,
    outcome = 'ambiguous', ambiguous = true,
    error = 'worker lost before the result was recorded'})
  redis.call('RPUSH', KEYS[2], lost)
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  attempts = attempts + 1
end
redis.call('HSET', KEYS[1], 'status', Status.SENDING, 'lease_until', now + tonumber(ARGV[3]),
  'lease_owner', ARGV[4], 'sending_since', now, 'updated_at', now / 1000)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {ClaimResult.CLAIMED, detail, tostring(attempts)}
