-- Record a state change (worker/store/claims.py). Returns 1, or 0 when the job was already
-- final (nothing changed but the attempt log): a worker that outlived its lease must not
-- undo another's result.
-- The attempt is appended unless that exact entry is the last one: the worker's Redis
-- client re-sends a command whose reply was lost (runtime.py rides out restarts that way),
-- and the first send may have been applied.
--
-- KEYS: outcome hash, attempts list
-- ARGV: ttl ms, attempt json ('': none), '1' to revive a final job (a replay), field, value, ...

if ARGV[2] ~= '' then
  if redis.call('LINDEX', KEYS[2], -1) ~= ARGV[2] then redis.call('RPUSH', KEYS[2], ARGV[2]) end
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
local status = redis.call('HGET', KEYS[1], 'status')
if (status == Status.SUCCEEDED or status == Status.DEAD) and ARGV[3] ~= '1' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('HDEL', KEYS[1], 'lease_until', 'lease_owner')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
