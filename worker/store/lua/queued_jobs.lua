-- Jobs waiting in the queue (worker/store/stats.py): a message's job count is its
-- `notify_jobs` field (producers/message.py; 1 if absent). A long queue is estimated from
-- both ends rather than read whole: one read must not hold Redis for long.
--
-- KEYS: queue. ARGV: exact limit, sample size. Returns {jobs, messages, estimated 0/1}.

local function jobs(items)
  local total = 0
  for _, message in ipairs(items) do
    total = total + (tonumber(string.match(message, '"notify_jobs":%s*(%d+)')) or 1)
  end
  return total
end
local n = redis.call('LLEN', KEYS[1])
local exact, sample = tonumber(ARGV[1]), tonumber(ARGV[2])
if n <= exact then return {jobs(redis.call('LRANGE', KEYS[1], 0, -1)), n, 0} end
local seen = jobs(redis.call('LRANGE', KEYS[1], 0, sample - 1))
  + jobs(redis.call('LRANGE', KEYS[1], -sample, -1))
return {math.floor(seen * n / (2 * sample) + 0.5), n, 1}
