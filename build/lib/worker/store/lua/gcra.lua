-- The shared rate limit (worker/store/limiter.py), included by the scripts that spend it.
--
-- GCRA ("theoretical arrival time") per scope: a scope with interval t and burst b may
-- send at time s when s >= tat - tau, tau = (b - 1) * t; the send moves tat to
-- max(tat, s) + t. So consecutive sends are t apart and no 1-second window holds more
-- than rate + 1 of them; a burst exists only when written (`20/s:40`).
--
-- Scopes: the API token (always limited), and an application (limited when
-- NOTIFY_RATE_LIMITS names it, or after a 429 for it). A 429 blocks its scope until
-- Retry-After (`until`) and multiplies its rate by a factor (LIMITER.CUT, at most once
-- per LIMITER.CUT_GUARD_MS, down to LIMITER.MIN_FACTOR); after LIMITER.QUIET_MS without
-- one, the factor climbs back by LIMITER.RAISE_STEP per LIMITER.RAISE_EVERY_MS, computed
-- when read, so no success has to write anything.

local function recovered(factor, hit_at, now)
  factor = tonumber(factor or 1)
  if factor >= 1 then return 1 end
  local quiet_since = tonumber(hit_at or 0) + LIMITER.QUIET_MS
  if now <= quiet_since then return factor end
  local steps = math.floor((now - quiet_since) / LIMITER.RAISE_EVERY_MS)
  return math.min(1, factor + steps * LIMITER.RAISE_STEP)
end

-- rate: sends per second at full speed (0: no limit of its own), burst: sends at once.
local function load_scope(key, rate, burst, now)
  local raw = redis.call('HMGET', key, 'tat', 'until', 'factor', 'hit_at')
  local s = {key = key, tat = tonumber(raw[1] or 0), untl = tonumber(raw[2] or 0), t = 0,
    tau = 0, factor = recovered(raw[3], raw[4], now), dirty = false}
  if rate > 0 then
    s.t = 1000 / (rate * s.factor)
    s.tau = (burst - 1) * s.t
  end
  return s
end

local function earliest(s, now)
  local at = math.max(now, s.untl)
  if s.t > 0 then at = math.max(at, s.tat - s.tau) end
  return at
end

local function take(s, at)
  if s.t == 0 then return end
  s.tat = math.max(s.tat, at) + s.t
  s.dirty = true
end

local function save_scope(s, now)
  if not s.dirty then return end
  redis.call('HSET', s.key, 'tat', fmt(s.tat))
  extend(s.key, math.max(s.tat, s.untl) - now + LIMITER.STATE_TTL_MS)
end
