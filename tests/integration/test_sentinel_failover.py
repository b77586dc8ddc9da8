"""A Sentinel failover under load: the primary SIGKILLed while jobs are enqueued and sent.

On loopback, all started here: a primary, two replicas and three sentinels
(tests/sentinel_cluster.py), the emulator, two workers and one producer enqueueing a job
every 20 ms for 20 s, every component on the same `sentinel://` REDIS_URL. The primary is
SIGKILLed 8 s in. Then:

* with NOTIFY_ENQUEUE_MIN_REPLICAS=1, every enqueue that returned a job id ends final
  (lost = 0), the two workers carry on without a restart, and the enqueues refused while
  the sentinels fail over raise a clear `QueueError` (unavailable, or not replicated: the
  job id, the replicas counted, "the same idempotency key"); each refused one, repeated
  with its key once the new primary answers, ends final too;
* `notify-relay health --worker` and `notify-relay stats --json` answer from the new
  primary;
* with NOTIFY_ENQUEUE_MIN_REPLICAS=0 the same run counts the acknowledged jobs the new
  primary never heard of (the figure in the README), and every other one ends final.

Each run prints one summary line (`-s` shows it): the figures behind the README.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from notify_relay.cli.ops import command_argv
from producers import NotReplicated, Producer, QueueError, QueueUnavailable
from producers.connection import redis_client
from producers.keys import Keys
from producers.settings import Settings
from tests.conftest import ROOT
from tests.faults.cluster import EmulatorProcess, WorkerPool
from tests.faults.runner import probe_request, worker_settings
from tests.sentinel_cluster import MASTER, SentinelCluster

pytestmark = pytest.mark.integration

FEED_S = 20.0
EVERY_S = 0.02
KILL_AT_S = 8.0
#: After the feed, until every job the new primary knows is final. A message lost with
#: the primary comes back through the watchdog after 2 x the visibility timeout (12 s).
DRAIN_S = 40.0
POLL_S = 0.1


@dataclass
class Feed:
    """What the producer saw: ids by idempotency key, refusals by key, in order."""

    acked: dict[str, str] = field(default_factory=dict)
    refused: dict[str, QueueError] = field(default_factory=dict)
    other_errors: list[BaseException] = field(default_factory=list)


def feed(producer: Producer, t0: float, stop: threading.Event, result: Feed) -> None:
    """One job every EVERY_S for FEED_S; a refused one is noted, and the feed goes on."""
    for index in range(int(FEED_S / EVERY_S)):
        if stop.wait(max(0.0, t0 + index * EVERY_S - time.monotonic())):
            return
        key = f"sentinel-{index:05d}"
        try:
            result.acked[key] = producer.enqueue(probe_request(key), idempotency_key=key)
        except QueueError as exc:
            result.refused[key] = exc
        except Exception as exc:  # noqa: BLE001  (reported by the test, not swallowed)
            result.other_errors.append(exc)


def statuses(client: redis.Redis, keys: Keys, job_ids: list[str]) -> dict[str, str | None]:
    """Each job's status on the current primary (None: no record there at all)."""
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.type(keys.outcome(job_id))
    kinds = pipe.execute()
    pipe = client.pipeline(transaction=False)
    for job_id, kind in zip(job_ids, kinds, strict=True):
        if kind == b"hash":
            pipe.hget(keys.outcome(job_id), "status")
        else:
            pipe.exists(keys.outcome(job_id))
    found: dict[str, str | None] = {}
    for job_id, kind, reply in zip(job_ids, kinds, pipe.execute(), strict=True):
        if kind == b"hash":
            found[job_id] = reply.decode()
        else:  # a final record is one string (producers/outcomes.py); absent: none
            found[job_id] = "final" if reply else None
    return found


def wait_settled(client: redis.Redis, keys: Keys, job_ids: list[str],
                 deadline_s: float) -> dict[str, str | None]:
    """Until every job is final or has no record (lost: nothing can bring it back)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            found = statuses(client, keys, job_ids)
        except redis.RedisError:
            found = {}
        if found and all(s in (None, "final") for s in found.values()):
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(POLL_S)


def run_failover(tmp_path: Path, min_replicas: int) -> dict[str, object]:
    cluster = SentinelCluster(tmp_path / "redis")
    emulator = EmulatorProcess(_port(), "sentinel-token", tmp_path / "logs", latency_ms=20.0)
    prefix = f"nrsent{min_replicas}:"
    settings: Settings = worker_settings(cluster.url, emulator.url, emulator.token, prefix,
                                         concurrency=8).replace(
        sentinel_master=MASTER, enqueue_min_replicas=min_replicas,
        enqueue_replica_timeout_s=0.5)
    settings.check()
    workers = WorkerPool(settings, 2, tmp_path / "logs")
    stop = threading.Event()
    result = Feed()
    try:
        cluster.start()
        emulator.start()
        workers.start_all()
        pids = [workers.pid(i) for i in range(2)]
        producer = Producer(settings=settings)
        t0 = time.monotonic()
        feeder = threading.Thread(target=feed, args=(producer, t0, stop, result), daemon=True)
        feeder.start()
        stop.wait(max(0.0, t0 + KILL_AT_S - time.monotonic()))
        old = cluster.kill_primary()
        cluster.wait_failover(old)
        failover_s = time.monotonic() - (cluster.killed_at or 0.0)
        feeder.join(FEED_S + 30)
        assert not feeder.is_alive(), "the producer never finished its feed"
        retried = {key: producer.enqueue(probe_request(key), idempotency_key=key)
                   for key in result.refused}  # the caller's retry: the same key
        producer.close()
        client = redis_client(settings, socket_timeout=5)
        keys = Keys(prefix)
        acked = list(result.acked.values())
        found = wait_settled(client, keys, acked + list(retried.values()), DRAIN_S)
        client.close()
        alive = [workers.pid(i) for i in range(2)]
        cli = cli_after_failover(settings)
    finally:
        stop.set()
        workers.stop_all()
        emulator.shutdown()
        cluster.stop()
    lost = [job for job in acked if found.get(job) is None]
    figures = {
        "min_replicas": min_replicas, "acknowledged": len(acked), "lost": len(lost),
        "not_final": sorted(j for j, s in found.items() if s not in (None, "final")),
        "refused": len(result.refused),
        "refused_kinds": sorted({type(e).__name__ for e in result.refused.values()}),
        "retried_lost": [j for j in retried.values() if found.get(j) is None],
        "failover_s": round(failover_s, 2), "pids_before": pids, "pids_after": alive,
        "other_errors": [repr(e) for e in result.other_errors], "refusals": result.refused,
        "cli": cli,
    }
    print(f"\nsentinel failover, NOTIFY_ENQUEUE_MIN_REPLICAS={min_replicas}: "
          f"{len(acked)} acknowledged, lost {len(lost)}, refused {len(result.refused)} "
          f"({', '.join(figures['refused_kinds']) or 'none'}), failover {failover_s:.1f}s")  # type: ignore[arg-type]
    return figures


def cli_after_failover(settings: Settings) -> dict[str, tuple[int, str]]:
    """`notify-relay health --worker` and `stats --json` on the new primary: exit, stderr."""
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    runs = {}
    for args in (("health", "--worker"), ("stats", "--json")):
        done = subprocess.run(command_argv(*args), env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        runs[" ".join(args)] = (done.returncode, done.stderr[-500:])
    return runs


def _port() -> int:
    from notify_relay.processes import free_port

    return free_port()


def assert_carried_on(figures: dict[str, object]) -> None:
    assert figures["other_errors"] == [], figures
    assert figures["not_final"] == [], figures
    assert figures["pids_after"] == figures["pids_before"], "a worker was restarted or died"
    assert figures["retried_lost"] == [], figures
    # The CLI finds the new primary too, and a worker beating there.
    assert all(rc == 0 for rc, _ in figures["cli"].values()), figures["cli"]  # type: ignore[attr-defined]


def assert_refusals_are_clear(refusals: dict[str, QueueError]) -> None:
    for error in refusals.values():
        assert isinstance(error, QueueUnavailable | NotReplicated), repr(error)
        assert "sentinel 127.0.0.1:" in str(error), str(error)  # names Redis, no password
        assert "secret" not in str(error)
        if isinstance(error, NotReplicated):
            assert error.job_ids and error.job_ids[0] in str(error)
            assert f"{error.acked} of 1 replica(s)" in str(error)
            assert "the same idempotency key" in str(error)


@pytest.mark.timeout(150)
def test_with_one_replica_per_enqueue_a_failover_loses_no_acknowledged_job(tmp_path):
    figures = run_failover(tmp_path, min_replicas=1)
    assert figures["lost"] == 0, figures
    assert_carried_on(figures)
    assert figures["refused"] > 0, "no enqueue met the failover"
    assert_refusals_are_clear(figures["refusals"])  # type: ignore[arg-type]


@pytest.mark.timeout(150)
def test_without_replica_waits_a_failover_is_measured_and_the_rest_carries_on(tmp_path):
    figures = run_failover(tmp_path, min_replicas=0)
    assert_carried_on(figures)
    assert "NotReplicated" not in figures["refused_kinds"]  # type: ignore[operator]
