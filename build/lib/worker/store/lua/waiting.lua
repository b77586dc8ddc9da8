-- What waits, for `notify-relay stats` and the exporter (worker/store/waiting.py): per
-- priority, each application scope with jobs waiting, how many, and when its oldest was
-- enqueued. Costs one look per scope, never per job.
--
-- KEYS: 1 urgent ring, 2 normal ring, 3 bulk ring, 4 apps hash (scope -> code)
-- ARGV: 1 key prefix
-- Returns, per ring in KEYS order: {count of scopes, then per scope: scope, code,
-- waiting, oldest enqueued_at (s) or ''}.

local out = {}
for i, prio in ipairs({Priority.URGENT, Priority.NORMAL, Priority.BULK}) do
  local scopes = redis.call('LRANGE', KEYS[i], 0, -1)
  out[#out + 1] = #scopes
  for _, scope in ipairs(scopes) do
    local list = ARGV[1] .. 'wait:' .. prio .. ':' .. scope
    local head = redis.call('LINDEX', list, 0)
    local oldest = ''
    if head then
      local h = live_fields(record_key(ARGV[1], head), 'enqueued_at')
      if h and h[1] then oldest = h[1] end
    end
    out[#out + 1] = scope
    out[#out + 1] = redis.call('HGET', KEYS[4], scope) or scope
    out[#out + 1] = redis.call('LLEN', list)
    out[#out + 1] = oldest
  end
end
return out
