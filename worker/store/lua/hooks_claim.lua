-- Take due webhooks for delivery (worker/store/webhooks.py `claim`): each due event's
-- score becomes the end of its lease, so no other deliverer takes it meanwhile, and
-- a deliverer that dies leaves it due again once the lease ends (at-least-once). The
-- lease end is also the claim's token: only its holder can record the result.
--
-- KEYS: 1 due, 2 events, 3 gone. ARGV: 1 now ms ('' = Redis clock), 2 lease ms, 3 most to
--       take, 4 the URL's digest.
-- Returns {gone (0/1), lease end ms, id, entry, id, entry, ...}.

local now = clock(ARGV[1])
local lease_end = now + tonumber(ARGV[2])
local gone = redis.call('HEXISTS', KEYS[3], ARGV[4])
local out = {gone, lease_end}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do
  local entry = redis.call('HGET', KEYS[2], id)
  if entry then
    redis.call('ZADD', KEYS[1], 'XX', lease_end, id)
    out[#out + 1] = id
    out[#out + 1] = entry
  else
    redis.call('ZREM', KEYS[1], id)  -- its entry is gone (purged): nothing to deliver
  end
end
return out
