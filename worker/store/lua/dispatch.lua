-- Move into the Celery queue what the budget lets start in the next moment
-- (worker/store/waiting.py; the dispatcher of worker/scheduler.py calls it in a loop).
--
-- Order: priority first (urgent, then normal, then bulk; bulk gets one slot in every
-- `bulk_every` while normal work waits too), then the applications of a priority in turn
-- (round-robin; a weight w takes w jobs per turn). An application held back by its own
-- limit or a 429 is passed over: the token's slot goes to the next one. Each job gets a
-- slot (ms, Redis clock) from the shared limiter (gcra.lua); only slots up to `horizon`
-- ahead are handed out, so the queue never holds more than a moment of work and later
-- urgent work waits at most that moment. A job past its deadline goes out with slot -1
-- (the worker dead-letters it as expired; no slot is spent on it). While the circuit is
-- open nothing goes, except one probe per probe interval.
--
-- Every job handed out gets a new dispatch number (its record's `dispatch`: the fencing
-- token of its message, worker/store/lua/claim.lua) and a `watch` entry: if the message
-- is lost (kombu's BRPOP gap), the watchdog puts the job back after `watch_grace`.
-- Messages are Celery protocol-2 `deliver` tasks, NOTIFY_BATCH_SIZE jobs at most, their
-- body plain JSON (kombu decodes no body without `body_encoding`), LPUSHed like kombu's.
--
-- KEYS: 1 token limiter state, 2 watch zset, 3 Celery queue list, 4 circuit hash,
--       5 scheduler state hash, 6 urgent ring, 7 normal ring, 8 bulk ring,
--       9 scopes with limiter state (held)
-- ARGV: 1 now ms ('' = Redis clock), 2 key prefix, 3 limiter key prefix, 4 horizon ms,
--       5 cap (jobs handed out and not claimed yet), 6 most jobs this call, 7 batch size,
--       8 token rate/s, 9 token burst, 10 bulk every (0: only when no normal work),
--       11 watch grace ms, 12 probe interval ms, 13 task id nonce, 14 queue name,
--       15 origin, 16 application limits {scope: [rate/s, burst, weight]} (JSON),
--       17 task name, 18 share window ms, 19 share window ttl ms
-- Returns {jobs handed out, ms until the next call is worth making (-1: nothing waits)}.

local now = clock(ARGV[1])
local prefix, rate_prefix = ARGV[2], ARGV[3]
local horizon, cap, most, batch = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7])
local bulk_every, grace = tonumber(ARGV[10]), tonumber(ARGV[11])
local limits = cjson.decode(ARGV[16])
local RINGS = {{Priority.URGENT, KEYS[6]}, {Priority.NORMAL, KEYS[7]}, {Priority.BULK, KEYS[8]}}

-- The circuit: open means nothing goes until its probe time; then one send probes.
local probe = false
local probe_at = redis.call('HGET', KEYS[4], 'probe_at')
if probe_at then
  if tonumber(probe_at) > now then return {0, tonumber(probe_at) - now} end
  probe = true
end

local room = math.min(most, cap - redis.call('ZCARD', KEYS[2]))
if room <= 0 then return {0, LIMITER.FULL_RETRY_MS} end

local token = load_scope(KEYS[1], tonumber(ARGV[8]), tonumber(ARGV[9]), now)
local held = {}
local flat_held = redis.call('HGETALL', KEYS[9])
for i = 1, #flat_held, 2 do held[flat_held[i]] = true end
local scopes = {}  -- application scopes loaded this call

local function app_of(scope)
  local s = scopes[scope]
  if s then return s end
  local conf = limits[scope] or {0, 1, 1}
  local rate = conf[1]
  if conf[1] > 0 or held[scope] then
    s = load_scope(rate_prefix .. 'app:' .. scope, rate, conf[2], now)
    if rate == 0 and s.factor < 1 then  -- throttled without a limit of its own
      s.t = 1000 / (tonumber(ARGV[8]) * s.factor)
    elseif rate == 0 and s.untl <= now then  -- recovered from its 429: no longer held
      redis.call('HDEL', KEYS[9], scope)
    end
  else
    s = {t = 0, tau = 0, tat = 0, untl = 0, dirty = false}
  end
  s.weight = conf[3]
  scopes[scope] = s
  return s
end

local state = {}
local flat_state = redis.call('HGETALL', KEYS[5])
for i = 1, #flat_state, 2 do state[flat_state[i]] = tonumber(flat_state[i + 1]) end
local rings = {}
for _, pair in ipairs(RINGS) do rings[pair[1]] = redis.call('LRANGE', pair[2], 0, -1) end
local ring_key = {}
for _, pair in ipairs(RINGS) do ring_key[pair[1]] = pair[2] end
local blocked_until = math.huge  -- the earliest time a passed-over application may send

-- The next job of `prio` an application may send at `slot`: id, record key, scope.
local function next_of(prio, slot)
  local ring = rings[prio]
  local visits = #ring
  while visits > 0 and #ring > 0 do
    visits = visits - 1
    local pos = (state['pos:' .. prio] or 0) % #ring + 1
    local scope = ring[pos]
    local app = app_of(scope)
    local at = earliest(app, slot)
    if at > slot then
      blocked_until = math.min(blocked_until, at)
      state['pos:' .. prio] = pos
      state['taken:' .. prio] = 0
    else
      local id = redis.call('LPOP', prefix .. 'wait:' .. prio .. ':' .. scope)
      local taken = (state['taken:' .. prio] or 0) + 1
      if not id then  -- found empty: out of the turns (records.lua push_waiting)
        redis.call('LREM', ring_key[prio], 1, scope)
        redis.call('SREM', prefix .. 'ringset:' .. prio, scope)
        table.remove(ring, pos)
        state['pos:' .. prio] = pos - 1
        state['taken:' .. prio] = 0
      elseif taken >= app.weight then
        state['pos:' .. prio] = pos
        state['taken:' .. prio] = 0
      else
        state['pos:' .. prio] = pos - 1
        state['taken:' .. prio] = taken
      end
      if id then return id, record_key(prefix, id), scope end
    end
  end
  return nil
end

-- Urgent first; bulk before normal once normal has had `bulk_every - 1` slots in a row.
local function pick(slot)
  local order = {Priority.URGENT, Priority.NORMAL, Priority.BULK}
  if bulk_every > 0 and (state.since_bulk or 0) >= bulk_every - 1 then
    order = {Priority.URGENT, Priority.BULK, Priority.NORMAL}
  end
  for _, prio in ipairs(order) do
    local id, key, scope = next_of(prio, slot)
    if id then
      if prio == Priority.BULK then state.since_bulk = 0
      elseif prio == Priority.NORMAL then state.since_bulk = (state.since_bulk or 0) + 1 end
      return id, key, scope
    end
  end
  return nil
end

local items, shares = {}, {}
local next_ms = -1
while #items < room do
  local slot = earliest(token, now)
  if slot > now + horizon then next_ms = slot - horizon - now; break end
  local id, key, scope = pick(slot)
  if not id then break end
  local h = live_fields(key, 'status', 'expires_at')
  if h and (h[1] == Status.QUEUED or h[1] == Status.RETRYING) then
    local n = redis.call('HINCRBY', key, 'dispatch', 1)
    if tonumber(h[2]) * 1000 <= slot then
      items[#items + 1] = {id, n, -1, 0}  -- too late already: the worker buries it
      redis.call('ZADD', KEYS[2], now + grace, id)
    else
      take(token, slot)
      take(app_of(scope), slot)
      items[#items + 1] = {id, n, slot, probe and 1 or 0}
      redis.call('ZADD', KEYS[2], slot + grace, id)
      shares[scope] = (shares[scope] or 0) + 1
      if probe then
        redis.call('HSET', KEYS[4], 'probe_at', now + tonumber(ARGV[12]))
        next_ms = tonumber(ARGV[12])
        break
      end
    end
  end  -- else: gone (expired record) or already handled: skip it
end
if #items == room and next_ms < 0 then next_ms = 0 end
if next_ms < 0 and blocked_until < math.huge then
  next_ms = math.max(1, blocked_until - horizon - now)
end

save_scope(token, now)
for _, s in pairs(scopes) do if s.key then save_scope(s, now) end end
local flat = {}
for name, value in pairs(state) do flat[#flat + 1] = name; flat[#flat + 1] = value end
if #flat > 0 then redis.call('HSET', KEYS[5], unpack(flat)) end
local window = tonumber(ARGV[18])
local share_key = prefix .. 'stats:share:' .. math.floor(now / window) * window / 1000
for scope, count in pairs(shares) do redis.call('HINCRBY', share_key, scope, count) end
if next(shares) then redis.call('PEXPIRE', share_key, tonumber(ARGV[19])) end

-- The Celery messages: protocol 2, `deliver(items)`, one per `batch` items.
local EMBED = {callbacks = cjson.null, errbacks = cjson.null, chain = cjson.null,
  chord = cjson.null}
for first = 1, #items, batch do
  local part, ids = {}, {}
  for i = first, math.min(#items, first + batch - 1) do
    part[#part + 1] = items[i]
    ids[#ids + 1] = items[i][1]
  end
  local task_id = ARGV[13] .. '-' .. first
  local body = cjson.encode({{part}, {}, EMBED})
  local headers = {lang = 'py', task = ARGV[17], id = task_id, shadow = cjson.null,
    eta = cjson.null, expires = cjson.null, group = cjson.null, group_index = cjson.null,
    retries = 0, timelimit = {cjson.null, cjson.null}, root_id = task_id,
    parent_id = cjson.null, argsrepr = "('deliver " .. #part .. ': ' .. table.concat(ids, ' ')
    .. "',)", kwargsrepr = '{}', origin = ARGV[15], ignore_result = true,
    replaced_task_nesting = 0, stamped_headers = cjson.null, stamps = {}}
  local message = cjson.encode({notify_jobs = #part, body = body,
    ['content-encoding'] = 'utf-8', ['content-type'] = 'application/json', headers = headers,
    properties = {correlation_id = task_id, reply_to = '', delivery_mode = 2,
      delivery_info = {exchange = '', routing_key = ARGV[14]}, priority = 0,
      delivery_tag = task_id}})
  redis.call('LPUSH', KEYS[3], message)
end
return {#items, math.floor(next_ms)}
