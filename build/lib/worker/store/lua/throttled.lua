-- The endpoint answered 429 for a job of this application scope (worker/store/limiter.py):
-- block the scope until Retry-After (clamped by the caller) and cut its rate (at most once
-- per cut guard interval: the sends in flight together are one signal). Other
-- applications keep theirs. The scope is listed in `held` so the dispatcher reads its state.
--
-- KEYS: 1 the scope's limiter state, 2 held scopes hash
-- ARGV: 1 now ms ('' = Redis clock), 2 block ms, 3 scope
-- Returns {factor, until ms} as strings.

local now = clock(ARGV[1])
local raw = redis.call('HMGET', KEYS[1], 'until', 'factor', 'hit_at', 'cut_at')
local factor = recovered(raw[2], raw[3], now)
local cut_at = tonumber(raw[4] or '-1e18')
if now - cut_at >= LIMITER.CUT_GUARD_MS then
  factor = math.max(LIMITER.MIN_FACTOR, factor * LIMITER.CUT)
  cut_at = now
end
local untl = math.max(tonumber(raw[1] or '0'), now + tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'until', fmt(untl), 'factor', fmt(factor), 'hit_at', fmt(now),
  'cut_at', fmt(cut_at))
extend(KEYS[1], untl - now + LIMITER.STATE_TTL_MS)
redis.call('HSET', KEYS[2], ARGV[3], fmt(untl))  -- claims read it: held back till then
return {fmt(factor), fmt(untl)}
