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

-- The time every script decides by, in ms: Redis's own clock (so the hosts' clocks may
-- differ by any amount), unless a caller passes one in (tests pass theirs).
local function clock(given)
  if given and given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A key-safe name for an application code (producers/keys.py `app_scope`, same rule).
local function app_scope(code)
  if string.match(code, '^[A-Za-z0-9-]+$') and #code <= 64 then return code end
  return 'h:' .. string.sub(redis.sha1hex(code), 1, 16)
end

-- A job id onto a waiting list; the scope joins its priority's turns if it is not in them.
-- `ringset:<prio>` mirrors `ring:<prio>`, so a scope is never in the turns twice: the
-- dispatcher drops a scope from both only when it finds its list empty.
local function push_waiting(prefix, prio, scope, code, id, at_head)
  local list = prefix .. 'wait:' .. prio .. ':' .. scope
  local length
  if at_head then length = redis.call('LPUSH', list, id) else length = redis.call('RPUSH', list, id) end
  if length == 1 and redis.call('SADD', prefix .. 'ringset:' .. prio, scope) == 1 then
    redis.call('RPUSH', prefix .. 'ring:' .. prio, scope)
    redis.call('HSET', prefix .. 'apps', scope, code)
  end
end

local function json_string(text)
  if text == nil or text == false or text == '' then return 'null' end
  return cjson.encode(text)
end

local function json_number(text)
  if text == nil or text == false or text == '' then return 'null' end
  return text
end
