"""Per-process resources, created once when a worker process starts.

The stores on one Redis client (worker/store), one pooled HTTP client, the sender threads
and the events funnel, built from one `Settings`. Celery's prefork pool forks after
import, so the runtime is built lazily per process id, never inherited across a fork.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis
from redis.backoff import ConstantBackoff
from redis.exceptions import OutOfMemoryError  # type: ignore[attr-defined]  # stub
from redis.retry import Retry

from producers.connection import redis_client
from producers.settings import Settings
from worker.events import Events
from worker.http import NotifyClient
from worker.store import Stores
from worker.webhooks.payloads import Outbox

#: Metrics are added up in memory and written this often: no round trip per send.
METRICS_FLUSH_S = 0.5

#: One Redis command's longest wait, and the pause between retries of a failed one.
REDIS_TRY_S = 2.0
REDIS_BACKOFF_S = 0.25
#: However long the lease, a Redis outage is not waited out longer than this.
MAX_REDIS_RETRY_S = 15.0


def redis_retries(settings: Settings) -> int:
    """Retries that fit a third of the slack between the longest send and the lease.

    A claim is held for the visibility timeout; a delivery spends at most connect +
    read timeout on HTTP, and retries Redis before the send and while recording. If
    those retries could outlast the slack, a live worker would outlive its lease and
    a second worker would take the job over and send it again.
    """
    slack = settings.visibility_timeout_s - settings.connect_timeout_s - settings.read_timeout_s
    budget_s = min(MAX_REDIS_RETRY_S, slack / 3)
    return max(1, int(budget_s / (REDIS_TRY_S + REDIS_BACKOFF_S)))


#: Connections a process's Redis pool keeps beyond one per send in flight (metrics
#: flusher, the mover, the heartbeat, a claim retried while another send records).
SPARE_CONNECTIONS = 8
#: How often an idle pooled Redis connection is checked before use.
HEALTH_CHECK_S = 30


@dataclass
class Runtime:
    settings: Settings
    stores: Stores
    http: NotifyClient
    owner: str
    rng: random.Random
    events: Events
    #: Where `send_batch` runs a batch's jobs side by side (NOTIFY_BATCH_SENDERS threads).
    #: Celery's own threads send one-job messages and wait for batches, so a few of them
    #: keep many senders busy, and a process reserves only NOTIFY_CONCURRENCY messages.
    senders: ThreadPoolExecutor
    #: The webhook events an outcome adds to the outbox (none while webhooks are off).
    outbox: Outbox

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        client = redis_client(
            settings, health_check_interval=HEALTH_CHECK_S,
            max_connections=settings.max_sends + SPARE_CONNECTIONS,
            socket_connect_timeout=REDIS_TRY_S / 2, socket_timeout=REDIS_TRY_S,
            # Ride out a short Redis restart: a result already received is worth waiting
            # to record, since giving up means sending it again later.
            retry=Retry(ConstantBackoff(REDIS_BACKOFF_S),  # type: ignore[arg-type]  # stub: int
                        redis_retries(settings)),
            # and a Redis refusing writes for a moment (maxmemory reached: M13)
            retry_on_error=[redis.ConnectionError, redis.TimeoutError, OutOfMemoryError],
        )
        stores = Stores.build(settings, client, metrics_flush_s=METRICS_FLUSH_S)
        return cls(
            settings=settings,
            stores=stores,
            http=NotifyClient(settings.base_url, settings.require_token(),
                              connect_timeout_s=settings.connect_timeout_s,
                              read_timeout_s=settings.read_timeout_s,
                              pool_size=settings.max_sends),
            owner=f"{socket.gethostname()}:{os.getpid()}",
            rng=random.Random(),
            events=Events(metrics=stores.metrics),
            senders=ThreadPoolExecutor(settings.batch_senders, thread_name_prefix="notify-send"),
            outbox=Outbox(settings.webhooks_on, settings.webhook_event_set),
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
        self.stores.redis.close()


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
