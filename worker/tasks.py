"""The Celery tasks. They only wire jobs to `delivery.deliver`.

`send` carries one job (`Producer.enqueue`, retries, replays); `send_batch` carries
several (`Producer.enqueue_many`) and delivers them side by side on the process's
sender threads, so that Celery's cost per message is paid once per batch.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import Counter
from typing import Any

import redis
from celery import signals
from celery.exceptions import Reject

from producers.job import BATCH_TASK_NAME, TASK_NAME
from producers.message import batch_watch_id
from producers.redis_errors import redis_error_line
from producers.scripts import execute
from worker import runtime
from worker.celery import app, settings
from worker.delivery import deliver, fail_internal

log = logging.getLogger("notify_relay.task")

#: Waiting this long after a Redis error before the message is put back: no spinning on a
#: Redis that is down.
REQUEUE_PAUSE_S = 0.5
#: Waiting this long when the runtime cannot be built (Redis or settings) before giving
#: the message back.
NO_RUNTIME_PAUSE_S = 1.0


class Undelivered(enum.StrEnum):
    """What `_deliver_one` returns besides a delivery's `Action`."""

    REQUEUE = "requeue"  # Redis failed: the message must come back
    UNSTARTED = "unstarted"  # a batch job not started, the worker is stopping: comes back
    DROPPED = "dropped"  # not a notify-relay job at all: nothing to record

#: Set on warm shutdown: sends in flight finish, a batch starts no new one.
_stopping = threading.Event()


@signals.worker_shutting_down.connect
def _on_shutdown(**_: object) -> None:
    _stopping.set()


@app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
          ignore_result=True)
def send(self: Any, job: dict[str, Any]) -> str:
    rt = _runtime()
    action = _deliver_one(job, rt)
    if action == Undelivered.REQUEUE:
        _requeue()
    return action


@app.task(name=BATCH_TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
          ignore_result=True)
def send_batch(self: Any, jobs: list[dict[str, Any]]) -> str:
    rt = _runtime()
    futures = [rt.senders.submit(_deliver_batched, job, rt) for job in jobs]
    actions = Counter(future.result() for future in futures)
    if actions[Undelivered.REQUEUE] or actions[Undelivered.UNSTARTED]:
        # The whole message comes back; the claim skips the jobs already recorded.
        log.info("requeueing a batch: %s", _counts(actions))
        _requeue(pause=bool(actions[Undelivered.REQUEUE]))
    try:
        # Every job is recorded (final, or parked with a message of its own): the batch
        # message no longer needs watching. Acked right after this returns.
        with rt.stores.redis.pipeline() as pipe:
            rt.stores.watchdog.untrack(pipe, batch_watch_id(self.request.id))
            execute(pipe)
    except redis.RedisError as exc:
        log.error("%s", redis_error_line(exc, settings.redis_url,
                                         todo="requeueing the batch message"))
        _requeue()
    return _counts(actions)


def _counts(actions: Counter[str]) -> str:
    return " ".join(f"{action}={count}" for action, count in sorted(actions.items()))


def _deliver_batched(job: dict[str, Any], rt: runtime.Runtime) -> str:
    # A stopping worker finishes what it started and starts nothing new: the rest of a
    # batch stays queued, and comes back with the requeued message.
    return Undelivered.UNSTARTED if _stopping.is_set() else _deliver_one(job, rt)


def _runtime() -> runtime.Runtime:
    try:
        return runtime.current(settings)
    except Exception as exc:  # no runtime, no way to record: keep the message for later
        log.exception("cannot build the worker runtime; requeueing")
        time.sleep(NO_RUNTIME_PAUSE_S)
        raise Reject(exc, requeue=True) from exc


def _deliver_one(job: dict[str, Any], rt: runtime.Runtime) -> str:
    try:
        return deliver(job, rt).action
    except redis.RedisError as exc:
        # Redis is unreachable: keep the message. If the requeue fails too, kombu's
        # visibility timeout brings the message back once Redis is.
        log.error("%s", redis_error_line(exc, settings.redis_url,
                                         todo="requeueing the message"))
        return Undelivered.REQUEUE
    except Exception as exc:  # a bug must still leave the job in a known state
        log.exception("internal error while delivering")
        return _dead_letter(job, rt, exc)


def _dead_letter(job: dict[str, Any], rt: runtime.Runtime, exc: Exception) -> str:
    try:
        return fail_internal(job, rt, exc).action
    except redis.RedisError:
        return Undelivered.REQUEUE
    except Exception:  # not even a job (a hand-made message): nothing to record
        log.exception("dropping a message item that is not a notify-relay job")
        return Undelivered.DROPPED


def _requeue(pause: bool = True) -> None:
    if pause:
        time.sleep(REQUEUE_PAUSE_S)
    raise Reject("requeued", requeue=True)
