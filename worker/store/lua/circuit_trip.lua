-- A systemic failure (401/403): open the circuit, or keep it open (worker/store/circuit.py).
--
-- KEYS: circuit. ARGV: now ms, probe interval ms, reason. Returns 1 when a new episode began.

local opened = redis.call('HSETNX', KEYS[1], 'opened_at', ARGV[1])
redis.call('HSET', KEYS[1], 'probe_at', tonumber(ARGV[1]) + tonumber(ARGV[2]), 'reason', ARGV[3])
return opened
