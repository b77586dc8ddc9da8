"""End to end: N jobs pre-enqueued, then the workers start; measured at the endpoint.

Throughput is N over the time from the endpoint's first arrival to its last answer
(worker start-up excluded, reported apart as `wall_s`). CPU per job is the workers'
user + system CPU between the first arrivals and the last answer, over the jobs
answered in between; peak RSS is the largest VmHWM among the worker processes.
Redis commands per job come from the private server's INFO commandstats (reset after
the pre-fill; commands run inside Lua scripts count too; start-up and idle polling
are included, which matters only for tiny N).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import procstats
from benchmarks.body import BODY
from benchmarks.infra import Endpoint, RedisServer
from benchmarks.systems import System, Target
from notify_relay.processes import Service

POLL_S = 0.05
TIMEOUT_FLOOR_S = 60.0


@dataclass
class Workers:
    """The started worker services and the processes they grew into."""

    services: list[Service]
    #: The services are supervisors (`notify-relay worker`): their own pid is no worker.
    supervised: bool = False

    def pids(self) -> list[int]:
        """Every process the services grew into, supervisors included (CPU counts them)."""
        return [pid for s in self.services for pid in procstats.tree(s.proc.pid)]

    def worker_pids(self) -> list[int]:
        """The Python worker processes (what RSS figures are about), in a stable order."""
        roots = {s.proc.pid for s in self.services} if self.supervised else set()
        return sorted(p for p in self.pids() if p not in roots and procstats.is_python(p))

    def check_alive(self) -> None:
        for service in self.services:
            if not service.alive():
                raise RuntimeError(f"{service.name} exited:\n{service.log_text()[-3000:]}")

    def peak_rss_mb(self) -> float:
        return max(procstats.memory_kb(p, "VmHWM") for p in self.worker_pids()) / 1024

    def stop(self) -> None:
        for service in self.services:
            service.stop(timeout=10)


def run(system: System, n: int, latency_ms: float, redis: RedisServer, endpoint: Endpoint,
        log_dir: Path) -> dict[str, Any]:
    """One run; returns jobs_per_s, cpu_ms_per_job, peak_rss_mb, wall_s."""
    redis.flush()
    endpoint.reset(latency_ms)
    target = Target(redis.url, endpoint.url)
    system.prefill(target, [BODY] * n)
    redis.reset_stats()
    redis_cpu = redis.cpu_seconds()
    started = time.monotonic()
    workers = Workers(system.launch(target, log_dir, _tag(system, latency_ms)), system.supervised)
    try:
        result = _measure(workers, n, endpoint, started, timeout_s=TIMEOUT_FLOOR_S + n / 10)
        calls = redis.command_calls()
        redis_cpu = redis.cpu_seconds() - redis_cpu
    finally:
        workers.stop()
    result["redis_cpu_ms_per_job"] = 1000 * redis_cpu / n
    result["redis_calls_per_job"] = {k: v / n for k, v in sorted(calls.items())}
    result["redis_commands_per_job"] = sum(calls.values()) / n
    return result


def _measure(workers: Workers, n: int, endpoint: Endpoint, started: float,
             timeout_s: float) -> dict[str, Any]:
    first: tuple[float, int] | None = None
    pids: list[int] = []
    while True:
        stats = endpoint.stats()
        if first is None and stats["count"] > 0:
            pids = workers.pids()
            first = (procstats.cpu_seconds(pids), stats["answered"])
        if stats["answered"] >= n:
            break
        workers.check_alive()
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"only {stats['answered']} of {n} answered in {timeout_s:g}s")
        time.sleep(POLL_S)
    assert first is not None
    cpu = procstats.cpu_seconds(pids) - first[0]
    elapsed = stats["last_answer"] - stats["first"]
    return {
        "jobs_per_s": stats["answered"] / elapsed,
        "cpu_ms_per_job": 1000 * cpu / max(1, stats["answered"] - first[1]),
        "peak_rss_mb": workers.peak_rss_mb(),
        "wall_s": stats["last_answer"] - started,
        "posts": stats["count"],
    }


def _tag(system: System, latency_ms: float) -> str:
    return f"{system.family}-{system.pool}-{system.processes}x{system.threads}-{latency_ms:g}ms"
