"""The Celery app: `celery -A worker worker` finds it here (Celery looks for
`worker.celery:app` when the package itself has none) and starts a worker with these
defaults.

Importing this module is what starts the worker's machinery: configuration comes from
one `Settings` built from the environment at import (a bad variable stops the process
with one line naming it, exit code 2), the signal hooks (log format, Sentry, heartbeat,
the retry mover), and the tasks. Nothing else in `worker` does anything at import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import sys
import threading
from typing import Any

import redis
from celery import Celery, bootsteps, signals

from producers.connection import SENTINEL_TIMEOUT_S, redis_client
from producers.redis_url import is_sentinel
from producers.settings import Settings, SettingsError
from worker import broker, logs, sentry
from worker.scheduler import SCHEDULER_REDIS_TIMEOUT_S, start_loops
from worker.store import Stores
from worker.store.heartbeat import Heartbeat

#: glibc gives each thread that allocates its own malloc arena (up to 8 per core); with
#: ~80 sending threads per process, 2 arenas keep the same speed in less memory.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # from glibc's malloc.h
#: kombu sweeps for messages of dead workers this many times per visibility timeout.
RESTORE_SWEEPS_PER_VISIBILITY = 6


def load_settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"notify-relay: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def celery_config(settings: Settings) -> dict[str, object]:
    visibility = settings.visibility_timeout_s
    return {
        # A sentinel:// URL is kombu's own spelling; its sentinel transport asks for the
        # primary of `master_name` on every (re)connection, so a worker follows a failover.
        "broker_url": settings.redis_url,
        "broker_transport_options": {
            **sentinel_options(settings),
            # Every kombu key under our prefix, beside ours.
            "global_keyprefix": settings.key_prefix,
            # A job held by a dead worker comes back after this, not after kombu's hour.
            "visibility_timeout": visibility,
            # Sweep for such jobs often enough that "after this" means it.
            "unacked_restore_interval": max(1, int(visibility / RESTORE_SWEEPS_PER_VISIBILITY)),
            "unacked_restore_throttle": 1,
            # The sweep holds a lock; a worker killed mid-sweep leaves it held until it
            # expires (kombu: 300 s), and nothing is restored meanwhile. A sweep takes
            # milliseconds; an overlap only restores a copy, which the claim fences.
            "unacked_mutex_expire": max(1, int(visibility / RESTORE_SWEEPS_PER_VISIBILITY)),
        },
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "task_default_queue": settings.queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_pool": "threads",
        "worker_concurrency": settings.concurrency,
        # Task events cost ~0.8 ms of CPU per job (benchmarks/README.md). Off unless
        # asked for: Flower switches them on in the workers it watches (every 5 s).
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": settings.task_events,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }


def sentinel_options(settings: Settings) -> dict[str, object]:
    """kombu's transport options for a sentinel:// REDIS_URL (none for a plain one)."""
    if not is_sentinel(settings.redis_url):
        return {}
    return {"master_name": settings.sentinel_master,
            # The same bound on asking a sentinel as producers/connection.py's clients.
            "sentinel_kwargs": {"socket_timeout": SENTINEL_TIMEOUT_S,
                                "socket_connect_timeout": SENTINEL_TIMEOUT_S}}


def limit_malloc_arenas() -> None:
    """mallopt(M_ARENA_MAX) before the threads start; nothing where libc is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


def connect_heartbeat(settings: Settings) -> None:
    """Beat from the moment the worker consumes (`worker_ready`) until it shuts down."""
    running: list[Heartbeat] = []

    def start(sender: object = None, **_: object) -> None:
        node = str(getattr(sender, "hostname", "") or f"celery@{socket.gethostname()}")
        running.append(Heartbeat(settings, node))
        running[-1].start()

    def stop(**_: object) -> None:
        while running:
            running.pop().stop()

    signals.worker_ready.connect(start, weak=False)
    signals.worker_shutdown.connect(stop, weak=False)


class SchedulerStep(bootsteps.StartStopStep):
    """Bootstep: the scheduler's loops (worker/scheduler.py: dispatcher, retry mover,
    watchdog) live and die with the worker; they stop first on a warm shutdown."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._client: redis.Redis | None = None

    def start(self, parent: object) -> None:
        self._client = redis_client(settings, socket_timeout=SCHEDULER_REDIS_TIMEOUT_S)
        self._threads = start_loops(Stores.build(settings, self._client), self._stop)

    def stop(self, parent: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._client is not None:
            self._client.close()


class WebhookStep(bootsteps.StartStopStep):
    """Bootstep: the webhook deliverer (worker/webhooks/deliverer.py), when
    NOTIFY_WEBHOOK_URL is set: its own threads, HTTP pool and Redis client, so a slow or
    dead receiver never holds a Celery thread or a notification send."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self._running: Any = None

    def start(self, parent: object) -> None:
        if settings.webhooks_on:
            from worker.webhooks import deliverer

            self._running = deliverer.start(settings)

    def stop(self, parent: object) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None


settings = load_settings()
limit_malloc_arenas()
broker.register()  # sentinel://: kombu's transport with the failover fix (worker/broker.py)
# SummaryTask: Flower and `celery inspect` see a job summary, never the job (redaction.py).
app = Celery("notify_relay", task_cls="worker.redaction:SummaryTask")
app.conf.update(celery_config(settings))
# Observability hooks into Celery's signals: log format, Sentry at worker start, heartbeat.
logs.connect(settings)
sentry.connect(settings)
connect_heartbeat(settings)
app.steps["worker"].add(SchedulerStep)
app.steps["worker"].add(WebhookStep)


@signals.worker_init.connect
def _require_token(**_: object) -> None:
    """A worker without a token would fail every send: refuse to start instead."""
    try:
        settings.require_token()
    except SettingsError as exc:
        print(f"notify-relay: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


from worker import tasks  # noqa: E402  (registers the tasks on `app`)

__all__ = ["app", "settings", "tasks"]
