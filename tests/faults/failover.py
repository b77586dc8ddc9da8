"""A fault scenario on a Redis under Sentinel: the primary SIGKILLed mid-run.

`FailoverScenario` is `Scenario` (runner.py) with its Redis replaced by a primary, two
replicas and three sentinels (tests/sentinel_cluster.py), every process (the feeder, the
workers, the harness's own reads) on the one `sentinel://` REDIS_URL, and the feeder's
enqueues waiting for NOTIFY_ENQUEUE_MIN_REPLICAS replicas. `failover()` is its fault:
SIGKILL the primary and wait until the sentinels name another one. The run is reconciled
job by job like every other scenario.
"""

from __future__ import annotations

import time
from pathlib import Path

from producers.connection import redis_client
from tests.faults.cluster import WorkerPool
from tests.faults.runner import Plan, Scenario
from tests.sentinel_cluster import MASTER, SentinelCluster

#: How long the failover waits for a send open at the endpoint before it kills.
OPEN_SENDS_WAIT_S = 10.0
#: How long an enqueue waits for its replicas before NotReplicated (and a retry).
REPLICA_TIMEOUT_S = 0.5


class SentinelRedis:
    """What a `Scenario` asks of its Redis (start, stop, crashes), on a Sentinel cluster."""

    def __init__(self, cluster: SentinelCluster) -> None:
        self.cluster = cluster
        self.crashes = 0

    def start(self) -> None:
        self.cluster.start()

    def stop(self) -> None:
        self.cluster.stop()


class FailoverScenario(Scenario):
    def __init__(self, plan: Plan, workdir: Path, *, min_replicas: int = 1) -> None:
        super().__init__(plan, workdir)
        self.cluster = SentinelCluster(workdir / "sentinel")
        self.redis = SentinelRedis(self.cluster)  # type: ignore[assignment]
        self.settings = self.settings.replace(
            redis_url=self.cluster.url, sentinel_master=MASTER,
            enqueue_min_replicas=min_replicas, enqueue_replica_timeout_s=REPLICA_TIMEOUT_S)
        self.settings.check()
        self.workers = WorkerPool(self.settings, plan.workers, workdir / "logs")
        self.failovers_s: list[float] = []

    def failover(self) -> None:
        """Once sends are open at the endpoint, SIGKILL the primary; return once the
        sentinels have promoted a replica."""
        open_sends = self._wait_for_open_sends()
        old = self.cluster.kill_primary()
        new = self.cluster.wait_failover(old)
        took = time.monotonic() - (self.cluster.killed_at or 0.0)
        self.failovers_s.append(took)
        self.redis.crashes += 1  # type: ignore[attr-defined]
        self.notes.append(f"primary {old} SIGKILLed with {open_sends} send(s) open at the "
                          f"endpoint; the sentinels named {new} {took:.1f}s later")

    def _wait_for_open_sends(self) -> int:
        """How many POSTs the endpoint holds unanswered, once there are any (or a deadline)."""
        client = redis_client(self.settings, socket_timeout=5)
        try:
            deadline = time.monotonic() + OPEN_SENDS_WAIT_S
            while time.monotonic() < deadline and not self._stop.is_set():
                held = sum(len(jobs) for jobs in self._open_sends_by_worker(client).values())
                if held:
                    return held
                time.sleep(0.01)
        finally:
            client.close()
        raise RuntimeError(f"no send was open at the endpoint for {OPEN_SENDS_WAIT_S:g}s")
