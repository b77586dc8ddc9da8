"""The circuit breaker for systemic failures (401/403): stop sending, probe, resume.

Owner of the `circuit` hash. Shared by every worker: one 401 opens it for all, so the
backlog keeps its place in the waiting lists instead of burning into the dead-letter
store. While it is open the dispatcher (waiting.py) hands out nothing but one probe per
NOTIFY_CIRCUIT_PROBE_INTERVAL; a probe that succeeds closes it.

A worker holding jobs handed out before the circuit opened gives them back unsent
(`is_open`): a closed circuit is remembered in-process for `CLOSED_CACHE_S`, so the
common case costs no Redis round trip per send, and a 401 reaches every worker within it.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

from producers.keys import Keys
from producers.scripts import Script

TRIP = Script(Path(__file__).with_name("lua") / "circuit_trip.lua")

CLOSED_CACHE_S = 0.25


class Circuit:
    def __init__(self, client: redis.Redis, keys: Keys, probe_interval_s: float) -> None:
        self._redis = client
        self._key = keys.circuit
        self._interval_ms = int(probe_interval_s * 1000)
        self._closed_until = 0.0  # monotonic time until which "closed" is trusted

    def is_open(self) -> bool:
        if time.monotonic() < self._closed_until:
            return False
        if self._redis.exists(self._key):
            return True
        self._closed_until = time.monotonic() + CLOSED_CACHE_S
        return False

    def trip(self, reason: str, now: float | None = None) -> bool:
        """Open (or keep open) the circuit; True only for the send that opened it."""
        self._closed_until = 0.0
        return bool(TRIP(self._redis, [self._key], ["" if now is None else int(now * 1000),
                                                    self._interval_ms, reason]))

    def reset(self) -> bool:
        """Close the circuit; True if it was open (the end of an episode)."""
        return bool(self._redis.delete(self._key))

    def state(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self._redis.hgetall(self._key).items()}
