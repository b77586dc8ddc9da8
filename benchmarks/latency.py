"""Latency from `Producer.enqueue` returning to the POST arriving, at a steady pace.

The workers start first and are warmed up (every thread has sent once). Their
capacity is measured right there, with a burst of `burst` pre-enqueued jobs, because
the load from elsewhere on a shared machine moves it from minute to minute; then one
producer enqueues at half that rate for `duration_s`.
Each body carries a marker; the endpoint stamps its arrival with time.monotonic(),
which on Linux is one clock for every process, so arrival - enqueued is the latency.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.body import body
from benchmarks.e2e import Workers
from benchmarks.infra import Endpoint, RedisServer, sleep_until
from benchmarks.systems import System, Target, notify_relay_settings
from notify_relay.processes import wait_until
from producers import Producer

DRAIN_TIMEOUT_S = 30.0


def run(system: System, burst: int, duration_s: float, latency_ms: float,
        redis: RedisServer, endpoint: Endpoint, log_dir: Path) -> dict[str, Any]:
    redis.flush()
    endpoint.reset(latency_ms)
    target = Target(redis.url, endpoint.url)
    workers = Workers(system.launch(target, log_dir, f"paced-{system.processes}x"
                                    f"{system.threads}-{latency_ms:g}ms"), system.supervised)
    # The paced jobs are single `enqueue` calls, so the capacity burst is made of them
    # too (what the workers see is the same either way: the dispatch packs messages).
    producer = Producer(settings=notify_relay_settings(target, batch_size=1))
    try:
        _drain(producer, system.concurrency * 2, endpoint, workers)
        endpoint.reset(latency_ms)
        _drain(producer, burst, endpoint, workers)
        stats = endpoint.stats()
        rate = 0.5 * stats["answered"] / (stats["last_answer"] - stats["first"])
        endpoint.reset(latency_ms)
        enqueued = _paced(producer, rate, max(1, int(rate * duration_s)))
        wait_until(lambda: endpoint.stats()["count"] >= len(enqueued), DRAIN_TIMEOUT_S,
                   "every paced job to arrive")
        return _summary(enqueued, endpoint.arrivals(), rate)
    finally:
        producer.close()
        workers.stop()


def _drain(producer: Producer, n: int, endpoint: Endpoint, workers: Workers) -> None:
    """Enqueue `n` jobs at once and wait until the endpoint answered them all."""
    producer.enqueue_many([body() for _ in range(n)])
    deadline = time.monotonic() + 60
    while endpoint.stats()["answered"] < n:
        workers.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers did not answer {n} jobs in 60 s")
        time.sleep(0.05)


def _paced(producer: Producer, rate: float, count: int) -> dict[str, float]:
    """Enqueue `count` marked jobs at `rate`/s; {marker: when enqueue returned}."""
    start = time.monotonic()
    enqueued: dict[str, float] = {}
    for i in range(count):
        sleep_until(start + i / rate)
        producer.enqueue(body(i))
        enqueued[str(i)] = time.monotonic()
    return enqueued


def _summary(enqueued: dict[str, float], arrivals: dict[str, float],
             rate: float) -> dict[str, Any]:
    latencies = sorted(1000 * (arrivals[k] - t) for k, t in enqueued.items() if k in arrivals)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"rate_per_s": rate, "jobs": len(enqueued), "p50_ms": cuts[49], "p99_ms": cuts[98],
            "max_ms": latencies[-1]}
