-- A send succeeded: after a quiet spell with no 429, raise the token's adaptive factor
-- by a step at most once per step interval, back up to 1 (the configured rate).
--
-- KEYS: 1 token state hash
-- ARGV: 1 now ms, 2 quiet ms, 3 step interval ms, 4 step, 5 state ttl ms
-- Returns the factor as a string.

-- fmt, num, extend: producers/lua/common.lua

local factor = num(KEYS[1], 'factor', 1)
local now = tonumber(ARGV[1])
if factor >= 1 or now - num(KEYS[1], 'hit_at', 0) < tonumber(ARGV[2])
    or now - num(KEYS[1], 'raised_at', 0) < tonumber(ARGV[3]) then
  return fmt(factor)
end
factor = math.min(1, factor + tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'factor', fmt(factor), 'raised_at', fmt(now))
extend(KEYS[1], tonumber(ARGV[5]))
return fmt(factor)
