"""The scheduler's loops: the dispatcher, the retry mover and the watchdog.

Run as threads in every worker's main process (`SchedulerStep` in worker/celery.py), and
on their own as `notify-relay scheduler`. Any number may run on any number of hosts: each
step is one atomic Redis script (worker/store/).

* The dispatcher hands waiting jobs out under the budget (worker/store/waiting.py): it
  runs again as soon as the last call says more can go, and otherwise sleeps until a
  producer wakes it (BLPOP on `wake`) or the next slot comes.
* The mover puts due retries back in their waiting lists; the watchdog puts back jobs
  whose message was lost.
"""

from __future__ import annotations

import logging
import threading

import redis

from worker.store import Stores

log = logging.getLogger("notify_relay.scheduler")

POLL_INTERVAL_S = 0.2
WATCHDOG_EVERY_S = 1.0
#: The dispatcher sleeps at most this long without a wake-up (a safety net: a lost one).
DISPATCH_IDLE_S = 0.5
#: ... and at least this long between two calls that handed nothing out.
DISPATCH_MIN_PAUSE_S = 0.002
#: The loops' Redis client waits this long for an answer (the dispatcher blocks on a
#: wake-up for at most DISPATCH_IDLE_S, well within it).
SCHEDULER_REDIS_TIMEOUT_S = 5.0
#: After a Redis error a loop waits this long before it tries again.
ERROR_PAUSE_S = 0.5


def run_dispatcher(stores: Stores, stop: threading.Event) -> None:
    """Hand jobs out until `stop` is set."""
    while not stop.is_set():
        try:
            done = stores.waiting.dispatch()
            if done.next_s == 0:
                continue
            wait_s = DISPATCH_IDLE_S if done.next_s is None else min(done.next_s,
                                                                     DISPATCH_IDLE_S)
            stores.waiting.wait_for_work(max(DISPATCH_MIN_PAUSE_S, wait_s))
        except redis.RedisError as exc:
            log.warning("dispatcher: redis unavailable (%s); will try again", exc)
            stop.wait(ERROR_PAUSE_S)


def run_scheduler(stores: Stores, stop: threading.Event,
                  interval_s: float = POLL_INTERVAL_S) -> None:
    """Move due retries every `interval_s`; let the watchdog look every WATCHDOG_EVERY_S."""
    looks = 0
    every = max(1, round(WATCHDOG_EVERY_S / interval_s))
    while not stop.is_set():
        try:
            stores.park.move_due()
            if looks % every == 0:
                stores.watchdog.check()
            looks += 1
        except redis.RedisError as exc:
            log.warning("scheduler: redis unavailable (%s); will try again", exc)
        stop.wait(interval_s)


def start_loops(stores: Stores, stop: threading.Event) -> list[threading.Thread]:
    """Both loops as daemon threads (a worker's, or `notify-relay scheduler`'s)."""
    threads = [threading.Thread(target=run_dispatcher, args=(stores, stop),
                                name="notify-relay-dispatcher", daemon=True),
               threading.Thread(target=run_scheduler, args=(stores, stop),
                                name="notify-relay-scheduler", daemon=True)]
    for thread in threads:
        thread.start()
    return threads
