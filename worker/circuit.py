"""The circuit breaker for systemic failures (401/403): stop sending, probe, resume.

Owner of the `circuit` hash. Shared by every worker: one 401 opens it for all, so
the backlog keeps its place instead of burning into the dead-letter store. While
open, one send per probe interval (won atomically) checks whether it is fixed.

A closed circuit is remembered in-process for `CLOSED_CACHE_S`, so the common case
costs no Redis round trip per send; a 401 anywhere reaches every worker within that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from producers.keys import Keys

# KEYS: circuit. ARGV: now ms, probe interval ms. → {state, time ms}
_CHECK = """
local probe_at = redis.call('HGET', KEYS[1], 'probe_at')
if not probe_at then return {'closed', '0'} end
local now = tonumber(ARGV[1])
if tonumber(probe_at) <= now then
  redis.call('HSET', KEYS[1], 'probe_at', now + tonumber(ARGV[2]))
  return {'probe', tostring(now + tonumber(ARGV[2]))}
end
return {'open', probe_at}
"""

# KEYS: circuit. ARGV: now ms, probe interval ms, reason. → 1 when a new episode began
_TRIP = """
local opened = redis.call('HSETNX', KEYS[1], 'opened_at', ARGV[1])
redis.call('HSET', KEYS[1], 'probe_at', tonumber(ARGV[1]) + tonumber(ARGV[2]), 'reason', ARGV[3])
return opened
"""


CLOSED_CACHE_S = 0.25


@dataclass(frozen=True)
class CircuitState:
    state: str  # closed, open (wait until `until`), probe (this worker sends one)
    until: float

    @property
    def blocked(self) -> bool:
        return self.state == "open"


class Circuit:
    def __init__(self, client: redis.Redis, keys: Keys, probe_interval_s: float) -> None:
        self._redis = client
        self._key = keys.circuit
        self._interval_ms = int(probe_interval_s * 1000)
        self._check = client.register_script(_CHECK)
        self._trip = client.register_script(_TRIP)
        self._closed_until = 0.0  # monotonic time until which "closed" is trusted

    def known_closed(self) -> bool:
        """True while this process saw the circuit closed less than CLOSED_CACHE_S ago."""
        return time.monotonic() < self._closed_until

    def check(self, now: float) -> CircuitState:
        if time.monotonic() < self._closed_until:
            return CircuitState("closed", 0.0)
        state, until = self._check(keys=[self._key], args=[int(now * 1000), self._interval_ms])
        result = CircuitState(state.decode(), int(until) / 1000)
        if result.state == "closed":
            self._closed_until = time.monotonic() + CLOSED_CACHE_S
        return result

    def trip(self, now: float, reason: str) -> bool:
        """Open (or keep open) the circuit; True only for the send that opened it."""
        self._closed_until = 0.0
        return bool(self._trip(keys=[self._key], args=[int(now * 1000), self._interval_ms,
                                                       reason]))

    def reset(self) -> bool:
        """Close the circuit; True if it was open (the end of an episode)."""
        return bool(self._redis.delete(self._key))

    def state(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self._redis.hgetall(self._key).items()}
