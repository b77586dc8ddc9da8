-- A systemic failure (401/403): open the circuit, or keep it open (worker/store/circuit.py).
-- The dispatcher (dispatch.lua) then hands nothing out until `probe_at`, and one probe then.
--
-- KEYS: circuit. ARGV: now ms ('' = Redis clock), probe interval ms, reason.
-- Returns 1 when a new episode began.

local now = clock(ARGV[1])
local opened = redis.call('HSETNX', KEYS[1], 'opened_at', now)
redis.call('HSET', KEYS[1], 'probe_at', now + tonumber(ARGV[2]), 'reason', ARGV[3])
return opened
