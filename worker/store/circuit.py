"""The circuit breaker for systemic failures (401/403): stop sending, probe, resume.

Owner of the `circuit` hash. Shared by every worker: one 401 opens it for all, so
the backlog keeps its place instead of burning into the dead-letter store. While
open, one send per probe interval (won atomically) checks whether it is fixed.

A closed circuit is remembered in-process for `CLOSED_CACHE_S`, so the common case
costs no Redis round trip per send; a 401 anywhere reaches every worker within that.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from producers.keys import Keys
from producers.scripts import Script


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"  # wait until `until`
    PROBE = "probe"  # this worker sends the one probe of this interval


_LUA = Path(__file__).with_name("lua")
CHECK = Script(_LUA / "circuit_check.lua", CircuitState)
TRIP = Script(_LUA / "circuit_trip.lua")

CLOSED_CACHE_S = 0.25


@dataclass(frozen=True)
class CircuitCheck:
    state: CircuitState
    until: float  # open: when the next probe may go (epoch s)

    @property
    def blocked(self) -> bool:
        return self.state is CircuitState.OPEN


class Circuit:
    def __init__(self, client: redis.Redis, keys: Keys, probe_interval_s: float) -> None:
        self._redis = client
        self._key = keys.circuit
        self._interval_ms = int(probe_interval_s * 1000)
        self._closed_until = 0.0  # monotonic time until which "closed" is trusted

    def known_closed(self) -> bool:
        """True while this process saw the circuit closed less than CLOSED_CACHE_S ago."""
        return time.monotonic() < self._closed_until

    def check(self, now: float) -> CircuitCheck:
        if time.monotonic() < self._closed_until:
            return CircuitCheck(CircuitState.CLOSED, 0.0)
        state, until = CHECK(self._redis, [self._key], [int(now * 1000), self._interval_ms])
        result = CircuitCheck(CircuitState(state.decode()), int(until) / 1000)
        if result.state is CircuitState.CLOSED:
            self._closed_until = time.monotonic() + CLOSED_CACHE_S
        return result

    def trip(self, now: float, reason: str) -> bool:
        """Open (or keep open) the circuit; True only for the send that opened it."""
        self._closed_until = 0.0
        return bool(TRIP(self._redis, [self._key], [int(now * 1000), self._interval_ms, reason]))

    def reset(self) -> bool:
        """Close the circuit; True if it was open (the end of an episode)."""
        return bool(self._redis.delete(self._key))

    def state(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self._redis.hgetall(self._key).items()}
