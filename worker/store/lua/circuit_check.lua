-- May this send go? (worker/store/circuit.py) While open, exactly one caller per probe
-- interval wins the probe.
--
-- KEYS: circuit. ARGV: now ms, probe interval ms. Returns {CircuitState, time ms}.

local probe_at = redis.call('HGET', KEYS[1], 'probe_at')
if not probe_at then return {CircuitState.CLOSED, '0'} end
local now = tonumber(ARGV[1])
if tonumber(probe_at) <= now then
  redis.call('HSET', KEYS[1], 'probe_at', now + tonumber(ARGV[2]))
  return {CircuitState.PROBE, tostring(now + tonumber(ARGV[2]))}
end
return {CircuitState.OPEN, probe_at}
