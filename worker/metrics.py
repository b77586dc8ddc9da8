"""Delivery counters, kept in Redis so that every process on every host adds to one total.

Owner of two key families (keys.py `stats:*`):

| key                | type | content                                 | bound                   |
|--------------------|------|-----------------------------------------|-------------------------|
| `stats:counters`   | hash | `family:label` → running total          | fixed fields; TTL 30 d  |
| `stats:window:<t>` | hash | failure class → sends in the 5 s from t | TTL 2 min               |

(The counters' TTL is refreshed on every write: it only drops a deployment idle for a
month, which Prometheus reads as an ordinary counter reset.)

Why Redis rather than prometheus_client in each worker: workers run as several processes on
several hosts and come and go (deploys, autoscaling). Per-process registries need either
PROMETHEUS_MULTIPROC_DIR (one host only, files to clean up) or a scrape target per process,
and a restart loses what it counted. One hash in Redis is one atomic HINCRBY per event,
survives restarts, is the same on every host, and is also what `notify-relay stats`
reads, so the CLI and Prometheus can never disagree. `worker/exporter.py` renders it.

A metrics write never breaks a delivery: a Redis error here is logged and dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from producers.keys import Keys

log = logging.getLogger("notify_relay.metrics")

#: Upper bounds (seconds) of the send latency histogram; `+Inf` is implied.
LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WINDOW_BUCKET_S = 5
WINDOW_S = 60
WINDOW_TTL_S = 120
COUNTERS_TTL_S = 30 * 86400
_WARN_EVERY_S = 60.0


def latency_field(duration_s: float) -> str:
    """The histogram field (non-cumulative bucket) a send of `duration_s` falls in."""
    for bound in LATENCY_BUCKETS_S:
        if duration_s <= bound:
            return f"latency:{bound:g}"
    return "latency:+Inf"


class Metrics:
    """The write side: `count` any event, `attempt` a send (class, latency, window)."""

    def __init__(self, client: redis.Redis, keys: Keys,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._counters = keys.stats("counters")
        self._keys = keys
        self._clock = clock
        self._warned_at = 0.0

    def count(self, family: str, label: str = "", amount: float = 1) -> None:
        """Add `amount` to the `family` counter (with `label`, e.g. a failure class)."""
        field = f"{family}:{label}" if label else family
        self._write(lambda pipe: self._incr(pipe, field, amount))

    def attempt(self, failure_class: str, duration_s: float) -> None:
        """One send finished: by class, its latency, and the last-minute window."""
        window = self._keys.stats(f"window:{window_start(self._clock())}")

        def write(pipe: redis.client.Pipeline) -> None:
            self._incr(pipe, f"attempts:{failure_class}", 1)
            self._incr(pipe, latency_field(duration_s), 1)
            self._incr(pipe, "latency_sum", duration_s)
            pipe.hincrby(window, failure_class, 1)
            pipe.expire(window, WINDOW_TTL_S)

        self._write(write)

    def _incr(self, pipe: redis.client.Pipeline, field: str, amount: float) -> None:
        if isinstance(amount, int):
            pipe.hincrby(self._counters, field, amount)
        else:
            pipe.hincrbyfloat(self._counters, field, amount)

    def _write(self, build: Callable[[redis.client.Pipeline], None]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            build(pipe)
            pipe.expire(self._counters, COUNTERS_TTL_S)
            pipe.execute()
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - self._warned_at >= _WARN_EVERY_S:  # one warning a minute, not per send
                self._warned_at = now
                log.warning("metrics not recorded: redis error: %s", exc)


def window_start(now: float) -> int:
    return int(now // WINDOW_BUCKET_S) * WINDOW_BUCKET_S


def read_counters(client: redis.Redis, keys: Keys) -> dict[str, float]:
    """Every running total, by field (`attempts:transient`, `latency:0.1`, `succeeded`…)."""
    raw = client.hgetall(keys.stats("counters"))
    return {name.decode(): float(value) for name, value in raw.items()}


def recent_sends(client: redis.Redis, keys: Keys, now: float) -> dict[str, int]:
    """Sends by failure class in the last minute (the last 12 five-second windows)."""
    starts = [window_start(now) - i * WINDOW_BUCKET_S for i in range(WINDOW_S // WINDOW_BUCKET_S)]
    pipe = client.pipeline(transaction=False)
    for start in starts:
        pipe.hgetall(keys.stats(f"window:{start}"))
    totals: dict[str, int] = {}
    for bucket in pipe.execute():
        for name, value in bucket.items():
            totals[name.decode()] = totals.get(name.decode(), 0) + int(value)
    return totals
