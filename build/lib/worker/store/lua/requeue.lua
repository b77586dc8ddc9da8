-- Put back jobs that were handed to this worker but not claimed (worker/store/claims.py):
-- a batch the worker stopped before starting them. Each goes back to the head of its
-- waiting list if it is still the same hand-out (dispatch number) and still unclaimed.
--
-- KEYS: 1 watch zset. ARGV: 1 key prefix, then per job: id, dispatch number.
-- Returns how many went back.

local back = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local key = record_key(ARGV[1], id)
  local h = live_fields(key, 'status', 'dispatch')
  if h and (h[1] == Status.QUEUED or h[1] == Status.RETRYING)
      and tonumber(h[2] or '0') == tonumber(ARGV[i + 1]) then
    redis.call('HINCRBY', key, 'dispatch', 1)  -- the old message can no longer claim it
    redis.call('ZREM', KEYS[1], id)
    wait_again(ARGV[1], key, id)
    back = back + 1
  end
end
if back > 0 then wake(ARGV[1]) end
return back
