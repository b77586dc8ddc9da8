"""The systems under test: how each is pre-filled with jobs and how its workers start.

A `System` is one worker layout of one family (notify-relay, plain Celery, Dramatiq).
Every family POSTs the same body to the same endpoint; notify-relay runs with its
defaults (outcomes, claims, attempt log, shared rate limiter) and a high limit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.body import TOKEN
from notify_relay.processes import Service, python_argv
from producers import Producer
from producers.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RATE_LIMIT = "100000/s"
PREFILL_CHUNK = 1000


@dataclass(frozen=True)
class Target:
    """Where the jobs go: the private Redis and the endpoint."""

    redis_url: str
    endpoint_url: str


@dataclass(frozen=True)
class System:
    family: str  # notify-relay, celery, dramatiq
    processes: int
    threads: int  # per process (prefork: child processes)
    pool: str = "threads"
    default: bool = False
    #: notify-relay only: jobs per queue message (NOTIFY_BATCH_SIZE; None: its default)
    batch_size: int | None = None
    #: notify-relay only: how the jobs were enqueued, "enqueue_many" or "enqueue" (one call
    #: a job, what application code mostly does)
    path: str = "enqueue_many"

    @property
    def concurrency(self) -> int:
        return self.processes * self.threads

    @property
    def label(self) -> str:
        if self.family == "celery" and self.pool == "prefork":
            return f"celery prefork x{self.threads}" + (" (default)" if self.default else "")
        shape = f"{self.processes}x{self.threads}"
        suffix = " (default)" if self.default else ""
        if self.batch_size is not None:
            suffix = f", {self.batch_size} job(s)/message{suffix}"
        if self.path != "enqueue_many":
            suffix = f", {self.path} path{suffix}"
        return f"{self.family} {shape} {self.pool}{suffix}"

    @property
    def layout(self) -> str:
        """The `--layouts` spelling that gives this system back."""
        shape = f"{self.processes}x{self.threads}"
        if self.batch_size is not None:
            shape = f"{shape}:{self.batch_size}"
        return shape if self.path == "enqueue_many" else f"{shape}@{self.path}"

    @property
    def one_job_per_message(self) -> bool:
        return self.batch_size == 1

    def prefill(self, target: Target, bodies: Sequence[dict[str, Any]]) -> None:
        """Put one job per body on the queue, before any worker runs."""
        if self.family == "notify-relay":
            _prefill_notify_relay(target, bodies, self.batch_size, self.path)
        elif self.family == "celery":
            _prefill_celery(target, bodies)
        else:
            _prefill_dramatiq(target, bodies)

    def launch(self, target: Target, log_dir: Path, tag: str,
               limit: str = RATE_LIMIT) -> list[Service]:
        """Start the workers; they begin on the pre-filled queue at once.

        notify-relay runs as its README says: `notify-relay worker --processes P`, one
        supervisor and P worker processes, with the Procfile's options (`limit`: its
        NOTIFY_RATE_LIMIT).
        """
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_REDIS_URL": target.redis_url,
               "BENCH_ENDPOINT_URL": target.endpoint_url}
        if self.family == "notify-relay":
            env.update(notify_relay_env(target, self.threads, self.batch_size))
            env["NOTIFY_RATE_LIMIT"] = limit
            argv = python_argv("-m", "notify_relay", "worker", "--processes",
                               str(self.processes), "--without-gossip", "--without-mingle")
            return [Service(tag, argv, env, log_dir)]
        return [Service(tag, self.argv(), env, log_dir)]

    @property
    def supervised(self) -> bool:
        """Its launched process is a supervisor, not a worker (left out of RSS figures)."""
        return self.family == "notify-relay"

    def argv(self) -> list[str]:
        if self.family == "celery":
            argv = [sys.executable, "-m", "celery", "-A", "benchmarks.peers.celery_app",
                    "worker", "--without-mingle", "--without-gossip"]
            if self.pool != "prefork":
                argv += ["--pool", self.pool, "--concurrency", str(self.threads)]
            return argv
        return [sys.executable, "-m", "dramatiq", "benchmarks.peers.dramatiq_app",
                "--processes", str(self.processes), "--threads", str(self.threads)]


def notify_relay_env(target: Target, threads: int | None = None,
                     batch_size: int | None = None) -> dict[str, str]:
    """The worker's environment: defaults, except the limit (high) and the layout.

    `threads` is what sends: the batch senders (NOTIFY_BATCH_SENDERS) when jobs travel
    in batches, Celery's threads (NOTIFY_CONCURRENCY) when each message is one job.
    """
    env = {"REDIS_URL": target.redis_url, "PUSHWOOSH_API_TOKEN": TOKEN,
           "PUSHWOOSH_BASE_URL": target.endpoint_url, "NOTIFY_RATE_LIMIT": RATE_LIMIT}
    if batch_size is not None:
        env["NOTIFY_BATCH_SIZE"] = str(batch_size)
    if threads is not None:
        name = "NOTIFY_CONCURRENCY" if batch_size == 1 else "NOTIFY_BATCH_SENDERS"
        env[name] = str(threads)
    return env


def notify_relay_settings(target: Target, batch_size: int | None = None) -> Settings:
    return Settings.from_env(notify_relay_env(target, batch_size=batch_size))


def _prefill_notify_relay(target: Target, bodies: Sequence[dict[str, Any]],
                          batch_size: int | None, path: str) -> None:
    producer = Producer(settings=notify_relay_settings(target, batch_size))
    if path == "enqueue":
        for request in bodies:
            producer.enqueue(request)
    else:
        for start in range(0, len(bodies), PREFILL_CHUNK):
            producer.enqueue_many(bodies[start : start + PREFILL_CHUNK])
    producer.close()


def _prefill_celery(target: Target, bodies: Sequence[dict[str, Any]]) -> None:
    from benchmarks.peers.celery_app import TASK_NAME, make_app

    app = make_app(target.redis_url)
    with app.producer_or_acquire() as producer:
        for body in bodies:
            app.send_task(TASK_NAME, args=[body], producer=producer)
    app.close()


def _prefill_dramatiq(target: Target, bodies: Sequence[dict[str, Any]]) -> None:
    from benchmarks.peers.dramatiq_app import make_actor

    actor = make_actor(target.redis_url)
    for body in bodies:
        actor.send(body)
    actor.broker.close()


#: What the compose file runs: 2 worker processes with every setting at its default.
NOTIFY_RELAY_DEFAULT = System("notify-relay", 2, Settings().batch_senders, default=True)

PEERS_0MS = (
    System("celery", 1, 2, pool="prefork", default=True),
    System("celery", 1, 64, pool="threads"),
    System("dramatiq", 2, 8),
)
PEERS_50MS = (*PEERS_0MS, System("dramatiq", 2, 64))


PATHS = ("enqueue_many", "enqueue")


def notify_relay(layout: str) -> System:
    """`"2x64"` → 2 worker processes of 64 senders; `"2x16:1"` → one job per message, sent
    on 16 Celery threads per process (see `notify_relay_env`); `"2x64@enqueue"` → the jobs
    enqueued one `enqueue` call each instead of by `enqueue_many`."""
    layout, _, path = layout.lower().partition("@")
    shape, _, per_message = layout.partition(":")
    processes, threads = (int(x) for x in shape.split("x"))
    batch_size = int(per_message) if per_message else None
    path = path or "enqueue_many"
    if path not in PATHS:
        raise ValueError(f"layout {layout!r}: the path after @ is one of {', '.join(PATHS)}")
    default = (processes, threads, batch_size) == (
        NOTIFY_RELAY_DEFAULT.processes, NOTIFY_RELAY_DEFAULT.threads, None)
    return System("notify-relay", processes, threads, default=default, batch_size=batch_size,
                  path=path)
