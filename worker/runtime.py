"""Per-process resources, created once when a worker process starts.

One Redis client, one pooled HTTP session and the stores, built from one
`Settings`. Celery's prefork pool forks after import, so the runtime is built
lazily per process id, never inherited across a fork.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis
from redis.backoff import ConstantBackoff
from redis.retry import Retry

from producers.keys import Keys
from producers.outcomes import OutcomeStore
from producers.settings import Settings
from worker.circuit import Circuit
from worker.deadletters import DeadLetterStore
from worker.events import Events
from worker.http import NotifyClient
from worker.metrics import Metrics
from worker.ratelimit import RateLimiter
from worker.retries import RetryPark
from worker.watchdog import Watchdog

#: glibc gives each thread that allocates its own malloc arena (up to 8 per core); with
#: ~80 sending threads per process, 2 arenas keep the same speed in less memory.
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """mallopt(M_ARENA_MAX) before the threads start; nothing where libc is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


M_ARENA_MAX = -8  # from glibc's malloc.h

#: Metrics are added up in memory and written this often: no round trip per send.
METRICS_FLUSH_S = 0.5

#: One Redis command's longest wait, and the pause between retries of a failed one.
REDIS_TRY_S = 2.0
REDIS_BACKOFF_S = 0.25


def redis_retries(settings: Settings) -> int:
    """Retries that fit a third of the slack between the longest send and the lease.

    A claim is held for the visibility timeout; a delivery spends at most connect +
    read timeout on HTTP, and retries Redis before the send and while recording. If
    those retries could outlast the slack, a live worker would outlive its lease and
    a second worker would take the job over and send it again.
    """
    slack = settings.visibility_timeout_s - settings.connect_timeout_s - settings.read_timeout_s
    budget_s = min(15.0, slack / 3)
    return max(1, int(budget_s / (REDIS_TRY_S + REDIS_BACKOFF_S)))


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    keys: Keys
    outcomes: OutcomeStore
    retries: RetryPark
    watchdog: Watchdog
    dead: DeadLetterStore
    circuit: Circuit
    limiter: RateLimiter
    http: NotifyClient
    owner: str
    rng: random.Random
    events: Events
    #: Where `send_batch` runs a batch's jobs side by side (NOTIFY_BATCH_SENDERS threads).
    #: Celery's own threads send one-job messages and wait for batches, so a few of them
    #: keep many senders busy, and a process reserves only NOTIFY_CONCURRENCY messages.
    senders: ThreadPoolExecutor

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        client = redis.Redis.from_url(
            settings.redis_url, health_check_interval=30,
            max_connections=settings.max_sends + 8,
            socket_connect_timeout=REDIS_TRY_S / 2, socket_timeout=REDIS_TRY_S,
            # Ride out a short Redis restart: a result already received is worth waiting
            # to record, since giving up means sending it again later.
            retry=Retry(ConstantBackoff(REDIS_BACKOFF_S),  # type: ignore[arg-type]  # stub: int
                        redis_retries(settings)),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        keys = Keys(settings.key_prefix)
        return cls(
            settings=settings,
            redis=client,
            keys=keys,
            outcomes=OutcomeStore(client, keys, settings.outcome_ttl_s),
            retries=RetryPark(client, keys, settings.queue),
            watchdog=Watchdog(client, keys, settings.queue, settings.watchdog_grace_s),
            dead=DeadLetterStore(client, keys, max_count=settings.dead_max,
                                 ttl_s=settings.dead_ttl_s),
            circuit=Circuit(client, keys, settings.circuit_probe_interval_s),
            limiter=RateLimiter.from_settings(client, keys, settings),
            http=NotifyClient(settings.base_url, settings.require_token(),
                              connect_timeout_s=settings.connect_timeout_s,
                              read_timeout_s=settings.read_timeout_s,
                              pool_size=settings.max_sends),
            owner=f"{socket.gethostname()}:{os.getpid()}",
            rng=random.Random(),
            events=Events(metrics=Metrics(client, keys, flush_every_s=METRICS_FLUSH_S)),
            senders=ThreadPoolExecutor(settings.batch_senders, thread_name_prefix="notify-send"),
        )

    def claim_owner(self) -> str:
        """A fresh owner per delivery, so a retried claim script is recognised as ours."""
        return f"{self.owner}:{uuid.uuid4().hex[:12]}"

    @property
    def lease_s(self) -> float:
        """How long a claim holds: the visibility timeout.

        Settings guarantee it exceeds the longest send (connect + read timeout), and a
        message redelivered after a worker died arrives no sooner than this, so the
        redelivered copy finds the dead holder's lease expired and can take over.
        """
        return self.settings.visibility_timeout_s

    def close(self) -> None:
        self.senders.shutdown(wait=True)
        self.http.close()
        self.redis.close()


_lock = threading.Lock()
_current: tuple[int, Runtime] | None = None


def current(settings: Settings) -> Runtime:
    """This process's runtime, built on first use after a fork."""
    global _current
    pid = os.getpid()
    if _current is None or _current[0] != pid:
        with _lock:
            if _current is None or _current[0] != pid:
                _current = (pid, Runtime.build(settings))
    return _current[1]
