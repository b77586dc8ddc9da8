"""`--memory`: worker RSS after 10,000 jobs against after 100,000 (0 ms endpoint).

A leak shows as RSS that keeps growing with the number of jobs; a flat line (within
10 %) from the first checkpoint to the last is the goal. RSS is sampled per worker
process (VmRSS) as the endpoint's answered count passes each checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks import procstats
from benchmarks.body import BODY
from benchmarks.e2e import Workers
from benchmarks.infra import Endpoint, RedisServer
from benchmarks.systems import System, Target

POLL_S = 0.2


def run(system: System, checkpoints: list[int], redis: RedisServer, endpoint: Endpoint,
        log_dir: Path) -> dict[str, Any]:
    """RSS (MiB) of each worker process at each checkpoint (answered jobs)."""
    total = checkpoints[-1]
    redis.flush()
    endpoint.reset(0)
    target = Target(redis.url, endpoint.url)
    system.prefill(target, [BODY] * total)
    workers = Workers(system.launch(target, log_dir, f"memory-{system.processes}x"
                                    f"{system.threads}"), system.supervised)
    samples: dict[int, list[float]] = {}
    try:
        pending = list(checkpoints)
        deadline = time.monotonic() + 120 + total / 20
        while pending:
            answered = endpoint.stats()["answered"]
            if answered >= pending[0]:
                samples[pending.pop(0)] = _rss_mb(workers)
                continue
            workers.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{answered} of {total} jobs answered before the deadline")
            time.sleep(POLL_S)
        peak = workers.peak_rss_mb()
    finally:
        workers.stop()
    first, last = samples[checkpoints[0]], samples[total]
    growth = max(b / a - 1 for a, b in zip(first, last, strict=True))
    return {"rss_mb": {str(k): v for k, v in samples.items()}, "peak_rss_mb": peak,
            "growth": growth}


def _rss_mb(workers: Workers) -> list[float]:
    """VmRSS of every Python worker process, in a stable order (MiB)."""
    pids = workers.worker_pids()
    return [procstats.memory_kb(p) / 1024 for p in pids]
