"""The Celery app: `celery -A worker worker` starts a worker with these defaults.

Configuration comes from one `Settings` built from the environment at import; a bad
variable stops the process with one line naming it (exit code 2).
"""

from __future__ import annotations

import os
import sys

from celery import Celery, signals

from producers.settings import Settings, SettingsError
from worker import health, logs, sentry


def load_settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"notify-relay: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def celery_config(settings: Settings) -> dict[str, object]:
    visibility = settings.visibility_timeout_s
    return {
        "broker_url": settings.redis_url,
        "broker_transport_options": {
            # Every kombu key under our prefix, beside ours.
            "global_keyprefix": settings.key_prefix,
            # A job held by a dead worker comes back after this, not after kombu's hour.
            "visibility_timeout": visibility,
            # Sweep for such jobs often enough that "after this" means it.
            "unacked_restore_interval": max(1, int(visibility / 6)),
            "unacked_restore_throttle": 1,
            # The sweep holds a lock; a worker killed mid-sweep leaves it held until it
            # expires (kombu: 300 s), and nothing is restored meanwhile. A sweep takes
            # milliseconds; an overlap only restores a copy, which the claim fences.
            "unacked_mutex_expire": max(1, int(visibility / 6)),
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


settings = load_settings()
# SummaryTask: Flower and `celery inspect` see a job summary, never the job (redaction.py).
app = Celery("notify_relay", task_cls="worker.redaction:SummaryTask")
app.conf.update(celery_config(settings))
# Observability hooks into Celery's signals: log format, Sentry at worker start, heartbeat.
logs.connect(settings)
sentry.connect(settings)
health.connect(settings)


@signals.worker_init.connect
def _require_token(**_: object) -> None:
    """A worker without a token would fail every send: refuse to start instead."""
    try:
        settings.require_token()
    except SettingsError as exc:
        print(f"notify-relay: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
