"""Moves parked retries back to the queue when due, and runs the watchdog.

Runs as a thread in every worker's main process (a Celery bootstep), and on its
own as `notify-relay scheduler`. Any number may run on any number of hosts: the
move is one atomic Redis script (retries.py).
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from celery import bootsteps

from producers.keys import Keys
from producers.settings import Settings
from worker.retries import RetryPark
from worker.watchdog import Watchdog

log = logging.getLogger("notify_relay.scheduler")

POLL_INTERVAL_S = 0.2
WATCHDOG_EVERY_S = 1.0


def run_mover(settings: Settings, stop: threading.Event, interval_s: float = POLL_INTERVAL_S,
              ) -> None:
    """Move due retries every `interval_s`; let the watchdog look every WATCHDOG_EVERY_S."""
    client = redis.Redis.from_url(settings.redis_url)
    keys = Keys(settings.key_prefix)
    park = RetryPark(client, keys, settings.queue)
    watchdog = Watchdog(client, keys, settings.queue, settings.watchdog_grace_s)
    next_look = 0.0
    while not stop.is_set():
        try:
            park.move_due(time.time())
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + WATCHDOG_EVERY_S
                watchdog.check(time.time())
        except redis.RedisError as exc:
            log.warning("retry mover: redis unavailable (%s); will try again", exc)
        stop.wait(interval_s)
    client.close()


class RetryMoverStep(bootsteps.StartStopStep):
    """Bootstep: the mover thread lives and dies with the worker."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, parent: object) -> None:
        from worker.application import settings

        self._thread = threading.Thread(target=run_mover, args=(settings, self._stop),
                                        name="notify-relay-retry-mover", daemon=True)
        self._thread.start()

    def stop(self, parent: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
