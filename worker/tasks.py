"""The Celery tasks. They only wire handed-out jobs to `delivery.deliver`.

`deliver(items)` is what the dispatcher publishes (worker/store/waiting.py): one or more
jobs, each `[job id, dispatch number, slot ms, probe]`. One item is sent on the Celery
thread; several go to the process's sender threads, side by side. The task's state says
what became of its jobs, so Flower tells the truth (worker/task_state.py): FAILURE when
any died, RETRY when none died and some wait again, SUCCESS otherwise. The message is
acknowledged in every case but one: Redis failed, and it is given back (rejected) to come
again. How each message ended is counted as Flower counts it (`message_states`).

`send(job)` / `send_batch(jobs)` carry whole jobs, for tools that publish with Celery
directly: each job is taken into its waiting list, under the budget like any other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import redis
from celery import signals
from celery.exceptions import Reject

from producers.enqueue import ENQUEUE, Enqueuer
from producers.exceptions import ValidationError
from producers.job import BATCH_TASK_NAME, DELIVER_TASK_NAME, TASK_NAME
from producers.redis_errors import redis_error_line
from worker import runtime
from worker.celery import app, settings
from worker.delivery import Done
from worker.delivery import deliver as deliver_item
from worker.store.claims import Item
from worker.task_state import JobsDead, Undelivered, outcome, state_of

log = logging.getLogger("notify_relay.task")

#: Waiting this long after a Redis error before the message is put back: no spinning on a
#: Redis that is down.
REQUEUE_PAUSE_S = 0.5
#: Waiting this long when the runtime cannot be built (Redis or settings) before giving
#: the message back.
NO_RUNTIME_PAUSE_S = 1.0
#: A message with more jobs than this (or NOTIFY_BATCH_SIZE, if larger) is not ours:
#: refused whole (its jobs, if real, are watched and come back by themselves).
MAX_ITEMS = 1000
#: Jobs of a batch not started this far into the visibility timeout go back to wait, so
#: a batch is done long before kombu would hand its message to another worker (M10).
START_WITHIN_VISIBILITY = 0.5


#: Set on warm shutdown: sends in flight finish, a batch starts no new one.
_stopping = threading.Event()


@signals.worker_shutting_down.connect
def _on_shutdown(**_: object) -> None:
    _stopping.set()


@app.task(name=DELIVER_TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
          ignore_result=True, throws=(JobsDead,))
def deliver(self: Any, items: list[Any]) -> str:
    rt = _runtime()
    parsed = _parse(items)
    rt.events.message(len(parsed))
    try:
        summary = _deliver_all(parsed, rt)
    except Exception as exc:  # JobsDead, JobsWaiting, Reject, or a bug: counted, then raised
        rt.events.message_ended(state_of(exc))
        raise
    rt.events.message_ended(state_of(None))
    return summary


def _deliver_all(parsed: list[Item], rt: runtime.Runtime) -> str:
    started = time.monotonic()
    if len(parsed) == 1:
        results = [_deliver_one(parsed[0], rt)]
    else:
        futures = [rt.senders.submit(_deliver_batched, item, rt, started) for item in parsed]
        results = [future.result() for future in futures]
    _give_back(parsed, results, rt)
    result = outcome(results)
    if isinstance(result, Exception):
        raise result
    return result


def _parse(items: Any) -> list[Item]:
    if not isinstance(items, list) or len(items) > max(MAX_ITEMS, settings.batch_size):
        log.error("refused a deliver message of %s items: not one the dispatcher makes",
                  len(items) if isinstance(items, list) else type(items).__name__)
        return []
    parsed = []
    for value in items:
        try:
            parsed.append(Item.parse(value))
        except (TypeError, ValueError):
            log.error("dropped a deliver item that is not [job id, dispatch, slot]")
    return parsed


def _deliver_batched(item: Item, rt: runtime.Runtime, started: float) -> Done | Undelivered:
    # A stopping worker finishes what it started and starts nothing new; a batch that
    # has run long gives its unstarted jobs back rather than outlive the visibility timeout.
    late = time.monotonic() - started > settings.visibility_timeout_s * START_WITHIN_VISIBILITY
    return Undelivered.UNSTARTED if _stopping.is_set() or late else _deliver_one(item, rt)


def _deliver_one(item: Item, rt: runtime.Runtime) -> Done | Undelivered:
    try:
        return deliver_item(item, rt)
    except redis.RedisError as exc:
        # Keep the message: if the requeue fails too, kombu's visibility timeout (or the
        # watchdog) brings the job back once Redis is.
        log.error("%s", redis_error_line(exc, settings.redis_url,
                                         todo="requeueing the message"))
        return Undelivered.REQUEUE


def _give_back(items: list[Item], results: list[Done | Undelivered],
               rt: runtime.Runtime) -> None:
    unstarted = [item for item, r in zip(items, results, strict=True)
                 if r == Undelivered.UNSTARTED]
    try:
        rt.stores.claims.requeue(unstarted)
    except redis.RedisError as exc:
        log.error("%s", redis_error_line(exc, settings.redis_url,
                                         todo="requeueing the batch message"))
        _requeue()
    if Undelivered.REQUEUE in results:
        _requeue()


# --- whole jobs from other publishers ---

@app.task(name=TASK_NAME, bind=True, acks_late=True, ignore_result=True)
def send(self: Any, job: dict[str, Any]) -> str:
    return _adopt([job])


@app.task(name=BATCH_TASK_NAME, bind=True, acks_late=True, ignore_result=True)
def send_batch(self: Any, jobs: list[dict[str, Any]]) -> str:
    return _adopt(jobs if isinstance(jobs, list) else [])


def _adopt(jobs: Iterable[Any]) -> str:
    """Take whole jobs into their waiting lists (the budget and priorities apply)."""
    from producers.validation import validate  # rare: only foreign messages come here

    rt = _runtime()
    enqueuer = Enqueuer(settings)
    counts: Counter[str] = Counter()
    for job in jobs:
        try:
            validate(job["request"], max_targets=settings.max_targets)
            [taken] = ENQUEUE(rt.stores.redis, *_call(enqueuer, job))
            counts["adopted" if taken else "known"] += 1
        except redis.RedisError as exc:
            log.error("%s", redis_error_line(exc, settings.redis_url,
                                             todo="requeueing the message"))
            _requeue()
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            log.error("dropped a message item that is not a valid notify-relay job: %s",
                      type(exc).__name__)
            counts["dropped"] += 1
    return " ".join(f"{name}={n}" for name, n in sorted(counts.items()))


def _call(enqueuer: Enqueuer, job: dict[str, Any]) -> tuple[list[str], list[Any]]:
    call = enqueuer.adopt(job)
    return call.keys, call.args


def _runtime() -> runtime.Runtime:
    try:
        return runtime.current(settings)
    except Exception as exc:  # no runtime, no way to record: keep the message for later
        log.exception("cannot build the worker runtime; the message comes back")
        time.sleep(NO_RUNTIME_PAUSE_S)
        raise Reject(exc, requeue=True) from exc


def _requeue(pause: bool = True) -> None:
    if pause:
        time.sleep(REQUEUE_PAUSE_S)
    raise Reject("requeued", requeue=True)

