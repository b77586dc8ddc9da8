-- The webhook outbox (worker/store/webhooks.py owns `hooks:*`), included by the scripts
-- that make a job final: its events join the outbox in the same script as the record, so
-- a crash between recording the outcome and queueing its events cannot lose them.
-- An event is due at once. Past the bound (NOTIFY_WEBHOOK_MAX_PENDING) it goes straight to
-- the webhook dead letters as `overflow` (visible, counted, replayable), never dropped.
--
-- An outbox entry is a JSON object (its delivery state) + "\n" + the body exactly as it
-- will be POSTed and signed; a dead letter is the same with "reason" and "dead_at" first.

local function hook_dead_entry(reason, now, entry)
  return '{"reason":"' .. reason .. '","dead_at":' .. fmt(now / 1000) .. ','
    .. string.sub(entry, 2)
end

-- keys: {due, events, dead index, dead entries, dead reasons}; events: ARGV pairs (id,
-- entry) from `from` on. dead: {kept ms, max count}.
local function push_events(keys, args, from, now, max_pending, dead)
  for i = from, #args - 1, 2 do
    local id, entry = args[i], args[i + 1]
    if redis.call('ZCARD', keys[1]) >= max_pending then
      add_dead_letter({keys[3], keys[4], keys[5]}, id,
        hook_dead_entry(HookDead.OVERFLOW, now, entry), now, now - dead[1], dead[2])
    elseif redis.call('HSETNX', keys[2], id, entry) == 1 then
      redis.call('ZADD', keys[1], 'NX', now, id)
    end
  end
end
