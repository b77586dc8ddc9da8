"""Delivery counters (and the HTTP API's answers, `api_requests:<status>`), kept in Redis
so that every process on every host adds to one total.

Owner of two key families (keys.py `stats:*`):

| key                | type | content                                 | bound                   |
|--------------------|------|-----------------------------------------|-------------------------|
| `stats:counters`   | hash | `family:label` → running total          | fixed fields; TTL 30 d  |
| `stats:window:<t>` | hash | failure class → sends in the 5 s from t | TTL 2 min               |
| `stats:minute:<t>` | hash | failure class → sends in the minute from t | TTL 65 min           |

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

import atexit
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

import redis

from producers.keys import Keys

log = logging.getLogger("notify_relay.metrics")

#: Upper bounds (seconds) of the send latency histogram; `+Inf` is implied.
LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WINDOW_BUCKET_S = 5
WINDOW_S = 60
WINDOW_TTL_S = 120
#: The last hour's sends per minute (the dashboard's plot): one hash per minute.
MINUTE_S = 60
HOUR_MINUTES = 60
MINUTE_TTL_S = (HOUR_MINUTES + 5) * MINUTE_S
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
                 clock: Callable[[], float] = time.time,
                 flush_every_s: float | None = None) -> None:
        """`flush_every_s`: add up in memory and write that often (the worker's hot path
        then spends no Redis round trip on metrics); None writes every event at once."""
        self._redis = client
        self._counters = keys.stats("counters")
        self._keys = keys
        self._clock = clock
        self._warned_at = 0.0
        self._flush_every_s = flush_every_s
        self._pending: defaultdict[tuple[str, str], float] = defaultdict(float)
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    def count(self, family: str, label: str = "", amount: float = 1) -> None:
        """Add `amount` to the `family` counter (with `label`, e.g. a failure class)."""
        field = f"{family}:{label}" if label else family
        self._add([(self._counters, field, amount)])

    def attempt(self, failure_class: str, duration_s: float) -> None:
        """One send finished: by class, its latency, and the last-minute window."""
        now = self._clock()
        window = self._keys.stats(f"window:{window_start(now)}")
        minute = self._keys.stats(f"minute:{minute_start(now)}")
        self._add([(self._counters, f"attempts:{failure_class}", 1),
                   (self._counters, latency_field(duration_s), 1),
                   (self._counters, "latency_sum", duration_s),
                   (window, failure_class, 1), (minute, failure_class, 1)])

    def flush(self) -> None:
        """Write what was added up since the last flush (kept for the next one on error)."""
        with self._lock:
            pending, self._pending = self._pending, defaultdict(float)
        if pending and not self._write_all(
                (key, field, int(amount) if float(amount).is_integer() else amount)
                for (key, field), amount in pending.items()):
            with self._lock:
                for item, amount in pending.items():
                    self._pending[item] += amount

    def _add(self, items: list[tuple[str, str, float]]) -> None:
        if self._flush_every_s is None:
            self._write_all(items)
            return
        with self._lock:
            for key, field, amount in items:
                self._pending[(key, field)] += amount
            if self._flusher is None:
                self._start_flusher(self._flush_every_s)

    def _write_all(self, items: Iterable[tuple[str, str, float]]) -> bool:
        def write(pipe: redis.client.Pipeline) -> None:
            for key, field, amount in items:
                self._incr_key(pipe, key, field, amount)
                if key != self._counters:  # a window or a minute: short-lived
                    pipe.expire(key, MINUTE_TTL_S if ":minute:" in key else WINDOW_TTL_S)

        return self._write(write)

    def _start_flusher(self, every_s: float) -> None:
        def loop() -> None:
            while True:
                time.sleep(every_s)
                self.flush()

        self._flusher = threading.Thread(target=loop, name="notify-relay-metrics", daemon=True)
        self._flusher.start()
        atexit.register(self.flush)  # a clean shutdown loses nothing

    def _incr_key(self, pipe: redis.client.Pipeline, key: str, field: str,
                  amount: float) -> None:
        if isinstance(amount, int):
            pipe.hincrby(key, field, amount)
        else:
            pipe.hincrbyfloat(key, field, amount)

    def _write(self, build: Callable[[redis.client.Pipeline], None]) -> bool:
        try:
            pipe = self._redis.pipeline(transaction=False)
            build(pipe)
            pipe.expire(self._counters, COUNTERS_TTL_S)
            pipe.execute()
            return True
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - self._warned_at >= _WARN_EVERY_S:  # one warning a minute, not per send
                self._warned_at = now
                log.warning("metrics not recorded: redis error: %s", exc)
            return False


def window_start(now: float) -> int:
    return int(now // WINDOW_BUCKET_S) * WINDOW_BUCKET_S


def minute_start(now: float) -> int:
    return int(now // MINUTE_S) * MINUTE_S


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


def sends_per_minute(client: redis.Redis, keys: Keys, now: float) -> list[dict[str, object]]:
    """The last hour's sends by failure class, one row per minute, oldest first (the
    current minute last, still filling): `{"minute": epoch s, "sends": {class: n}}`."""
    starts = [minute_start(now) - i * MINUTE_S for i in reversed(range(HOUR_MINUTES))]
    pipe = client.pipeline(transaction=False)
    for start in starts:
        pipe.hgetall(keys.stats(f"minute:{start}"))
    return [{"minute": start, "sends": {k.decode(): int(v) for k, v in sorted(bucket.items())}}
            for start, bucket in zip(starts, pipe.execute(), strict=True)]
