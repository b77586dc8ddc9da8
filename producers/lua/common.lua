-- Helpers every script may use: prepended to each when it is loaded (producers/scripts.py),
-- since Redis scripts cannot import one another.

local function fmt(x) return string.format('%.17g', x) end

local function num(key, field, default)
  local value = redis.call('HGET', key, field)
  if value then return tonumber(value) end
  return default
end

local function extend(key, ms)  -- TTLs only grow: state must outlive its reservations
  ms = math.ceil(ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
