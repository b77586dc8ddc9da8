"""The scheduler: moves due retries back to the queue, and runs the watchdog.

Runs as a thread in every worker's main process (`SchedulerStep` in worker/celery.py),
and on its own as `notify-relay scheduler`. Any number may run on any number of hosts:
each move and each watchdog look is one atomic Redis script (worker/store/).
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from worker.store import Stores

log = logging.getLogger("notify_relay.scheduler")

POLL_INTERVAL_S = 0.2
WATCHDOG_EVERY_S = 1.0


def run_scheduler(stores: Stores, stop: threading.Event,
                  interval_s: float = POLL_INTERVAL_S) -> None:
    """Move due retries every `interval_s`; let the watchdog look every WATCHDOG_EVERY_S."""
    next_look = 0.0
    while not stop.is_set():
        try:
            stores.park.move_due(time.time())
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + WATCHDOG_EVERY_S
                stores.watchdog.check(time.time())
        except redis.RedisError as exc:
            log.warning("scheduler: redis unavailable (%s); will try again", exc)
        stop.wait(interval_s)
