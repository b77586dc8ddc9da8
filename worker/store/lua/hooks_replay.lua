-- Deliver a webhook dead letter again (worker/store/webhooks.py `replay`): the same id
-- (so a receiver that did get it can tell), a fresh ladder, due at once.
--
-- KEYS: 1 due, 2 events, 3 dead index, 4 dead entries, 5 dead reasons
-- ARGV: 1 id, 2 the outbox entry, 3 now ms ('' = Redis clock), 4 most webhooks pending
-- Returns 1, 0 when the dead letter is gone (replayed or purged meanwhile), -1 when the
-- outbox is full.

local now = clock(ARGV[3])
local entry = redis.call('HGET', KEYS[4], ARGV[1])
if not entry then return 0 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
-- First a write Redis refuses when full: then a full Redis refuses the whole replay.
redis.call('HINCRBY', KEYS[5], reason_of(entry), -1)
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
