-- One send asks for a slot: GCRA ("theoretical arrival time") per scope, with reservations.
--
-- Scopes: the API token (always limited) and the job's application (limited only when
-- NOTIFY_RATE_LIMITS names it; either may be blocked by a 429 until `until`).
-- A scope with interval t and burst b conforms at time s when s >= tat - tau,
-- tau = (b - 1) * t; taking that slot moves tat to max(tat, s) + t.
--
-- A wait > 0 is a reservation held for ARGV[2] (the job id): calling again with the same
-- holder redeems it (wait 0 once its time has come) instead of taking a second slot, so
-- a parked job that comes back, or a retried script, costs one slot in all.
-- * full hold (KEYS[3]): both scopes reserved at that time;
-- * partial hold (KEYS[4]): only the application's own limit holds the send back, so
--   only its slot is reserved, and the token's is taken when that time comes; a
--   throttled application never holds token slots that other applications could use.
-- A hold lapses when a 429 blocked its scope since, or when its time is more than
-- `tol` = max(late tolerance, one interval) past: sending later could bunch with the
-- slots after it. A full hold whose holder is `steal` ms late may be used by another send
-- of the same application instead (a parked job comes back through the queue, behind
-- whatever is waiting there): the slot is used by one send either way, never wasted
-- while someone is asking, and never used more than `tol` late.
--
-- KEYS: 1 token state hash, 2 application state hash, 3 application's full holds zset,
--       4 application's partial holds zset, 5 wait counter hash
-- ARGV: 1 now ms, 2 holder, 3 token rate/s, 4 token burst, 5 application rate/s (0: none),
--       6 application burst, 7 counter field, 8 state ttl ms, 9 hold keep ms,
--       10 late tolerance ms, 11 counter ttl ms, 12 steal after ms
-- Returns {wait ms, adaptive factor} as strings.

local now, holder = tonumber(ARGV[1]), ARGV[2]
local ttl_ms, keep_ms, late_ms = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local steal_ms = tonumber(ARGV[12])
local EPS = 1  -- ms: a holder back within this of its slot goes now

-- fmt, num, extend: producers/lua/common.lua

local factor = num(KEYS[1], 'factor', 1)

local function scope(key, rate, burst)
  local s = {key = key, tat = num(key, 'tat', 0), untl = num(key, 'until', 0), t = 0, tau = 0}
  if rate > 0 then
    s.t = 1000 / (rate * factor)
    s.tau = (burst - 1) * s.t
  end
  return s
end

local tok = scope(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]))
local app = scope(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]))

local function earliest(s)
  local at = math.max(now, s.untl)
  if s.t > 0 then at = math.max(at, s.tat - s.tau) end
  return at
end

local function tolerance(s)  -- how late a slot may be used without bunching
  if s.t == 0 then return math.huge end
  return math.max(s.t, late_ms)
end

local function take(s, at)
  if s.t == 0 then return end
  s.tat = math.max(s.tat, at) + s.t
  redis.call('HSET', s.key, 'tat', fmt(s.tat))
  extend(s.key, math.max(s.tat, s.untl) - now + ttl_ms)
end

local function hold(key, at)
  redis.call('ZADD', key, fmt(at), holder)
  extend(key, at - now + keep_ms)
end

-- A hold: nil when there is none or it lapsed; else its time (kept until it is due).
local function held(key, s_until, tol)
  local at = redis.call('ZSCORE', key, holder)
  if not at then return nil end
  at = tonumber(at)
  if at < s_until or now > at + tol or now + EPS >= at then
    redis.call('ZREM', key, holder)
  end
  if at < s_until or now > at + tol then return nil end
  return at
end

local function redeem_full()
  return held(KEYS[3], math.max(tok.untl, app.untl), math.min(tolerance(tok), tolerance(app)))
end

local function redeem_partial()
  local at = held(KEYS[4], app.untl, tolerance(app))
  if not at or now + EPS < at then return at end
  local t_at = earliest(tok)
  if t_at - at > tolerance(app) then
    -- Going this late could bunch with the application's later slots, unless there are
    -- none: then the slot moves; else it lapses and the send queues again.
    if math.abs(app.tat - (at + app.t)) > EPS then return nil end
    app.tat = at
    take(app, t_at)
  end
  take(tok, t_at)
  if t_at > now + EPS then hold(KEYS[3], t_at) end
  return t_at
end

local function steal()  -- the oldest full hold whose holder is late
  local tol = math.min(tolerance(tok), tolerance(app))
  local low = math.max(now - tol, tok.untl, app.untl)
  local late = redis.call('ZRANGEBYSCORE', KEYS[3], fmt(low), fmt(now - steal_ms), 'LIMIT', 0, 1)
  if #late == 0 then return nil end
  redis.call('ZREM', KEYS[3], late[1])
  return now
end

local function fresh()
  local a_at, t_at = earliest(app), earliest(tok)
  local at = math.max(a_at, t_at)
  if at - math.max(tok.tat, now) <= tok.t then
    -- Reserving the token at `at` leaves it no idle gap worth more than one interval.
    take(tok, at)
    take(app, at)
    if at > now + EPS then hold(KEYS[3], at) end
  else
    -- Only the application holds this send back: keep the token's slots for the others.
    take(app, at)
    if app.t > 0 and at > now + EPS then hold(KEYS[4], at) end
  end
  if at > now + EPS then
    redis.call('HINCRBY', KEYS[5], ARGV[7], 1)
    extend(KEYS[5], tonumber(ARGV[11]))
  end
  return at
end

redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', fmt(now - keep_ms))
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', fmt(now - keep_ms))
local at = redeem_full() or redeem_partial() or steal() or fresh()
local wait = at - now
if wait < EPS then wait = 0 end
return {fmt(wait), fmt(factor)}
