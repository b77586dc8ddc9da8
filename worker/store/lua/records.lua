-- Helpers for a job's record (worker/store/claims.py), included by the scripts that change
-- one. A live record is a hash; a final one (succeeded, dead) is one compact string, the
-- shape producers/outcomes.py reads: a JSON array, a line break, the attempt log:
--   [1, status, kind, application, priority, enqueued_at, expires_at, idempotency_key,
--    updated_at, dead_reason, last_error, replayed_at, message_code,
--    unknown_identifiers]\n[row, row, ...]
-- (fields are only added at the end; unknown_identifiers is JSON the worker built, or null)
-- The log is a JSON array of rows (producers/outcomes.py `Attempt.row`). JSON never holds
-- a raw line break, so a late attempt is appended by splicing at it, never by decoding.

local function record_key(prefix, id) return prefix .. '{' .. id .. '}:outcome' end

-- HMGET that tells a final (string) record apart: nil for it, else the values.
local function live_fields(key, ...)
  local got = redis.pcall('HMGET', key, ...)
  if type(got) == 'table' and got['err'] then return nil end
  return got
end

local function final_status(key)
  return string.match(redis.call('GET', key), '^%[1,"(%a+)"')
end

-- A row re-sent by a client retrying a lost reply is logged once.
local function append_row(log, row)
  if not log or log == '' or log == '[]' then return '[' .. row .. ']' end
  if string.sub(log, -(#row + 1)) == row .. ']' then return log end
  return string.sub(log, 1, -2) .. ',' .. row .. ']'
end

local function append_live(key, row)
  if row == '' then return end
  redis.call('HSET', key, 'log', append_row(redis.call('HGET', key, 'log'), row))
end

-- A result that comes after the record turned final (a worker that outlived its lease).
local function append_final(key, row)
  if row == '' then return end
  local text = redis.call('GET', key)
  local cut = string.find(text, '\n', 1, true)
  local log = string.sub(text, cut + 1)
  redis.call('SET', key, string.sub(text, 1, cut) .. append_row(log, row), 'KEEPTTL')
end

-- The same row, flagged late (its last element): the result of a worker whose claim ended.
local function late_row(row)
  if row == '' then return '' end
  return string.sub(row, 1, -3) .. '1]'
end

-- The live record as a table: nil when it is final (a compact string), {} when gone.
local function load_record(key)
  local flat = redis.pcall('HGETALL', key)
  if type(flat) == 'table' and flat['err'] then return nil end
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  return f
end

-- Whether `owner`'s claim still holds the job: 'held'; 'again' when this very record was
-- applied already (a client re-sending a command whose reply was lost); else 'late' (its
-- lease ran out and another worker took the job over, or the job is final): the attempt
-- is logged, flagged late, and nothing else changes, so a worker that outlived its lease
-- never undoes another's work.
local function ends_with(log, row)
  return row ~= '' and log ~= nil and string.sub(log, -(#row + 1)) == row .. ']'
end

local function still_held(key, f, owner, row)
  if f == nil then
    if ends_with(redis.call('GET', key), row) then return 'again' end
    append_final(key, late_row(row))
    return 'late'
  end
  if ends_with(f.log, row) then return 'again' end
  if f.status == nil then return 'late' end
  if f.status ~= Status.SENDING or f.lease_owner ~= owner then
    if row ~= '' then redis.call('HSET', key, 'log', append_row(f.log, late_row(row))) end
    return 'late'
  end
  return 'held'
end

-- The record script's answer when the claim no longer holds: DONE for a repeat of itself.
local function not_held(state)
  if state == 'again' then return RecordResult.DONE end
  return RecordResult.LATE
end

local function row_count(log)
  if not log or log == '' or log == '[]' then return 0 end
  local _, rows = string.gsub(log, '%],%[', '')
  return rows + 1
end

-- Replace the live hash by its compact final string (SET replaces any type).
local function finalize(key, f, ttl_ms)
  local parts = {'1', json_string(f.status), json_string(f.kind), json_string(f.application),
    json_string(f.priority), json_number(f.enqueued_at), json_number(f.expires_at),
    json_string(f.idempotency_key), json_number(f.updated_at), json_string(f.dead_reason),
    json_string(f.last_error), json_number(f.replayed_at), json_string(f.message_code),
    json_number(f.unknown_identifiers)}
  redis.call('SET', key, '[' .. table.concat(parts, ',') .. ']\n' .. (f.log or '[]'),
    'PX', ttl_ms)
end

-- Back to the head of its waiting list (it waited already: it goes before newer work).
local function wait_again(prefix, key, id)
  local h = redis.call('HMGET', key, 'priority', 'application')
  push_waiting(prefix, h[1], app_scope(h[2] or ''), h[2] or '', id, true)
end

-- A holder died mid-send: its attempt may have reached the endpoint (ambiguous), and it
-- counts against the budget like a failed send.
local function log_worker_lost(key, number, sending_since)
  append_live(key, '[' .. number .. ',' .. fmt(tonumber(sending_since) / 1000)
    .. ',null,"ambiguous",null,null,"worker lost before the result was recorded",null,1,null,0]')
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HINCRBY', key, 'spent', 1)
end

local function wake(prefix)
  redis.call('LPUSH', prefix .. 'wake', '1')
  redis.call('LTRIM', prefix .. 'wake', 0, 0)
end
