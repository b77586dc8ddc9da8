"""Redis bytes per job: while it waits, and what it leaves once finished.

For each enqueue path, N one-job requests are enqueued into an empty server (after one
job that loads the scripts and creates the fixed keys), `used_memory` before and after
gives the bytes per queued job; then the default workers send them all and, once every
outcome is final, the bytes still held per job are what a finished job keeps for
`NOTIFY_OUTCOME_TTL` (its outcome and attempt log in one string). One queued and one
finished record are also weighed with `MEMORY USAGE`.

Plain Celery and Dramatiq are weighed queued only: without a result backend they keep
nothing once a message is done (and so cannot answer "what happened to job X").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.body import body
from benchmarks.e2e import Workers
from benchmarks.infra import Endpoint, RedisServer
from benchmarks.systems import PATHS, System, Target, notify_relay_settings
from notify_relay.processes import wait_until
from producers import Producer
from producers.keys import Keys

DRAIN_TIMEOUT_S = 120.0
PEER_FAMILIES = (System("celery", 1, 2, pool="prefork"), System("dramatiq", 2, 8))


def run(system: System, n: int, redis: RedisServer, endpoint: Endpoint,
        log_dir: Path) -> dict[str, Any]:
    """notify-relay: bytes per queued job for each path, per finished job after the drain."""
    # Once through first, small: the workers' first start loads their scripts and creates
    # kombu's bindings, memory that is not any job's.
    _one_path(system, PATHS[0], 10, redis, endpoint, log_dir)
    result: dict[str, Any] = {}
    for path in PATHS:
        result[path] = _one_path(system, path, n, redis, endpoint, log_dir)
    return result


def _one_path(system: System, path: str, n: int, redis: RedisServer, endpoint: Endpoint,
              log_dir: Path) -> dict[str, Any]:
    redis.flush()  # keys only: the script cache stays, as on a server in service
    endpoint.reset(0)
    target = Target(redis.url, endpoint.url)
    settings = notify_relay_settings(target)
    keys = Keys(settings.key_prefix)
    producer = Producer(settings=settings)
    try:
        producer.enqueue(body())  # loads the scripts, creates the fixed keys
        base = redis.used_memory()
        bodies = [body(i) for i in range(n)]
        if path == "enqueue":
            ids = [producer.enqueue(request) for request in bodies]
        else:
            ids = producer.enqueue_many(bodies)
        queued = redis.used_memory()
        queued_record = _usage(redis, keys.outcome(ids[0]))
    finally:
        producer.close()
    workers = Workers(system.launch(target, log_dir, f"footprint-{path}"), system.supervised)
    try:
        wait_until(lambda: _finished(redis, keys, ids[-1]) and
                   endpoint.stats()["answered"] >= n + 1, DRAIN_TIMEOUT_S,
                   f"all {n + 1} jobs to finish")
        wait_until(lambda: redis.client.zcard(keys.watch) == 0, 30,
                   "the watchdog's entries to go")
    finally:
        workers.stop()
    finished = redis.used_memory()
    return {"queued_bytes_per_job": (queued - base) / n,
            "finished_bytes_per_job": (finished - base) / n,
            "queued_record_bytes": queued_record,
            "finished_record_bytes": _usage(redis, keys.outcome(ids[0]))}


def _finished(redis: RedisServer, keys: Keys, job_id: str) -> bool:
    """The last job's record is final (a compact string, not the queued hash)."""
    return redis.client.type(keys.outcome(job_id)) == b"string"


def _usage(redis: RedisServer, key: str) -> int:
    return int(redis.client.memory_usage(key, samples=0) or 0)


def peer(system: System, n: int, redis: RedisServer) -> dict[str, Any]:
    """A peer's bytes per queued message (the same bodies, no worker running)."""
    redis.flush()
    target = Target(redis.url, "http://127.0.0.1:1")
    system.prefill(target, [body()])
    base = redis.used_memory()
    system.prefill(target, [body(i) for i in range(n)])
    return {"queued_bytes_per_job": (redis.used_memory() - base) / n}
