-- The endpoint answered 429: cut the token's rate (once per guard interval, however many
-- sends in flight were refused together) and block the scope until Retry-After.
-- The blocked scope restarts at its end without a burst: its tat moves to until + tau.
--
-- KEYS: 1 token state hash, 2 blocked scope's state hash (the application's, or KEYS[1]),
--       3 wait counter hash
-- ARGV: 1 now ms, 2 until ms, 3 scope rate/s (0: none), 4 scope burst, 5 cut factor,
--       6 min factor, 7 cut guard ms, 8 state ttl ms, 9 counter field, 10 counter ttl ms
-- Returns {factor, until ms} as strings.

local now, untl = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[8])

-- fmt, num, extend: producers/lua/common.lua

local factor = num(KEYS[1], 'factor', 1)
if now - num(KEYS[1], 'cut_at', -1e18) >= tonumber(ARGV[7]) then
  factor = math.max(tonumber(ARGV[6]), factor * tonumber(ARGV[5]))
  redis.call('HSET', KEYS[1], 'factor', fmt(factor), 'cut_at', fmt(now))
end
redis.call('HSET', KEYS[1], 'hit_at', fmt(now))

untl = math.max(untl, num(KEYS[2], 'until', 0))
redis.call('HSET', KEYS[2], 'until', fmt(untl))
local tat = num(KEYS[2], 'tat', 0)
local rate = tonumber(ARGV[3])
if rate > 0 then
  tat = math.max(tat, untl + (tonumber(ARGV[4]) - 1) * 1000 / (rate * factor))
  redis.call('HSET', KEYS[2], 'tat', fmt(tat))
end
for _, key in ipairs({KEYS[1], KEYS[2]}) do
  extend(key, math.max(tat, untl) - now + ttl_ms)
end
redis.call('HINCRBY', KEYS[3], ARGV[9], 0)  -- so that stats list the throttled scope
extend(KEYS[3], tonumber(ARGV[10]))
return {fmt(factor), fmt(untl)}
