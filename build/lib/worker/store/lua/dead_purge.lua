-- Delete dead letters (worker/store/deadletters.py): each entry, its index entry and its
-- count, together. The first write is the count's (a command Redis refuses when it is
-- full), so a full Redis refuses the whole purge rather than part of it.
--
-- KEYS: 1 dead index, 2 dead entries, 3 dead reasons. ARGV: job ids.
-- Returns how many were still there.

local gone = 0
for _, id in ipairs(ARGV) do
  local entry = redis.call('HGET', KEYS[2], id)
  if entry then
    redis.call('HINCRBY', KEYS[3], reason_of(entry), -1)
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[1], id)
    gone = gone + 1
  end
end
return gone
