"""Moves parked retries back to the queue when due.

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

log = logging.getLogger("notify_relay.scheduler")

POLL_INTERVAL_S = 0.2


def run_mover(settings: Settings, stop: threading.Event, interval_s: float = POLL_INTERVAL_S,
              ) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    park = RetryPark(client, Keys(settings.key_prefix), settings.queue)
    while not stop.is_set():
        try:
            moved = park.move_due(time.time())
            if moved:
                log.debug("moved %d due retries to the queue", moved)
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
