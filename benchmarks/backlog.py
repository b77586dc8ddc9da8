"""A scarce budget under a backlog: what 200,000 waiting jobs cost, against 1,000.

At `NOTIFY_RATE_LIMIT=20/s` the budget, not the workers, decides when a job leaves, so
a backlog is the normal state. For each backlog size, the jobs are enqueued first
(`enqueue_many`, half `normal` and half `bulk`, over `APPLICATIONS` applications),
then the default worker layout starts; once it sends at the limit, for `window_s`:

* Redis's own CPU per second (INFO cpu; the dispatch, claims and records run there);
* `stats` latency: `worker.store.stats.collect` (what `notify-relay stats` and the
  metrics exporter read) timed in this process, and `notify-relay stats --json` once
  as a command (its Python start-up included);
* the wait of urgent jobs, one a second from an application with nothing waiting:
  from `Producer.enqueue` returning to the POST arriving at the endpoint (the issue's
  bound is max(1 s, two send intervals) = 1 s at 20/s);
* the sends per second the endpoint saw, and Redis's bytes per waiting job.

The figure that matters is the ratio: 200,000 waiting should cost what 1,000 do.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.body import body
from benchmarks.e2e import Workers
from benchmarks.infra import Endpoint, RedisServer, sleep_until
from benchmarks.systems import ROOT, System, Target, notify_relay_env
from notify_relay.processes import wait_until
from producers import Producer
from producers.connection import redis_client
from producers.settings import Settings
from worker.store import Stores
from worker.store.stats import collect

RATE_LIMIT = "20/s"
APPLICATIONS = 4
URGENT_APP = "URGNT-00000"
PREFILL_CHUNK = 2000
WARM_UP_TIMEOUT_S = 60.0
STATS_EVERY_S = 0.1


def run(system: System, waiting: int, window_s: float, redis: RedisServer,
        endpoint: Endpoint, log_dir: Path) -> dict[str, Any]:
    redis.flush()
    endpoint.reset(0.0)
    target = Target(redis.url, endpoint.url)
    env = {**notify_relay_env(target), "NOTIFY_RATE_LIMIT": RATE_LIMIT}
    settings = Settings.from_env(env)
    memory_before = redis.used_memory()
    prefill_s = _prefill(settings, waiting)
    bytes_per_waiting = (redis.used_memory() - memory_before) / waiting
    workers = Workers(system.launch(target, log_dir, f"backlog-{waiting}", limit=RATE_LIMIT),
                      system.supervised)
    producer = Producer(settings=settings)
    stores = Stores.build(settings, redis_client(settings))
    try:
        wait_until(lambda: endpoint.stats()["answered"] >= 20, WARM_UP_TIMEOUT_S,
                   "the workers to send at the limit")
        result = _window(producer, stores, redis, endpoint, workers, window_s)
        result["stats_command_ms"] = _stats_command_ms(env)
    finally:
        producer.close()
        workers.stop()
        stores.redis.close()
    return {"waiting": waiting, "prefill_s": prefill_s,
            "redis_bytes_per_waiting_job": bytes_per_waiting, **result}


def _prefill(settings: Settings, waiting: int) -> float:
    """`waiting` jobs, half normal and half bulk, spread over the applications."""
    producer = Producer(settings=settings)
    started = time.monotonic()
    try:
        for start in range(0, waiting, PREFILL_CHUNK):
            count = min(PREFILL_CHUNK, waiting - start)
            app = f"CAMP{start // PREFILL_CHUNK % APPLICATIONS}-00000"
            priority = "normal" if (start // PREFILL_CHUNK) % 2 else "bulk"
            producer.enqueue_many([_for_app(body(), app) for _ in range(count)],
                                  priority=priority)
    finally:
        producer.close()
    return time.monotonic() - started


def _for_app(request: dict[str, Any], app: str) -> dict[str, Any]:
    request["transactional"]["application"] = app
    return request


def _window(producer: Producer, stores: Stores, redis: RedisServer, endpoint: Endpoint,
            workers: Workers, window_s: float) -> dict[str, Any]:
    """One urgent job a second and a stats read every STATS_EVERY_S, for `window_s`."""
    sent_before, cpu_before = endpoint.stats()["answered"], redis.cpu_seconds()
    started = time.monotonic()
    enqueued: dict[str, float] = {}
    stats_ms: list[float] = []
    next_urgent = started
    while (now := time.monotonic()) < started + window_s:
        if now >= next_urgent:
            marker = len(enqueued)
            producer.enqueue(_for_app(body(marker), URGENT_APP), priority="urgent")
            enqueued[str(marker)] = time.monotonic()
            next_urgent += 1.0
        t0 = time.perf_counter()
        collect(stores)
        stats_ms.append(1000 * (time.perf_counter() - t0))
        workers.check_alive()
        sleep_until(time.monotonic() + STATS_EVERY_S)
    elapsed = time.monotonic() - started
    cpu = redis.cpu_seconds() - cpu_before
    sent = endpoint.stats()["answered"] - sent_before
    wait_until(lambda: set(enqueued) <= set(endpoint.arrivals()), 30,
               "every urgent job to arrive")
    arrivals = endpoint.arrivals()
    waits = sorted(1000 * (arrivals[k] - t) for k, t in enqueued.items())
    return {"redis_cpu_ms_per_s": 1000 * cpu / elapsed, "sends_per_s": sent / elapsed,
            "stats_p50_ms": _quantile(stats_ms, 50), "stats_p99_ms": _quantile(stats_ms, 99),
            "urgent_jobs": len(waits), "urgent_p50_ms": _quantile(waits, 50),
            "urgent_p99_ms": _quantile(waits, 99), "urgent_max_ms": waits[-1]}


def _quantile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _stats_command_ms(env: dict[str, str], times: int = 3) -> float:
    """`notify-relay stats --json` as an operator types it (start-up included): the
    median of `times` (the first one pays for a cold file cache)."""
    took = []
    for _ in range(times):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "notify_relay", "stats", "--json"], env={
            **env, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, cwd=ROOT,
            capture_output=True, text=True, timeout=60)
        took.append(1000 * (time.perf_counter() - t0))
        if done.returncode != 0:
            raise RuntimeError(f"notify-relay stats exited {done.returncode}: "
                               f"{done.stderr[-2000:]}")
    return statistics.median(took)
