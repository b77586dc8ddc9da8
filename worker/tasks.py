"""The one Celery task. It only wires the job to `delivery.deliver`."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery.exceptions import Reject

from producers.job import TASK_NAME
from worker import runtime
from worker.application import app, settings
from worker.delivery import deliver, fail_internal

log = logging.getLogger("notify_relay.task")


@app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
          ignore_result=True)
def send(self: Any, job: dict[str, Any]) -> str:
    try:
        rt = runtime.current(settings)
    except Exception as exc:  # no runtime, no way to record: keep the message for later
        log.exception("cannot build the worker runtime; requeueing")
        time.sleep(1.0)
        raise Reject(exc, requeue=True) from exc
    try:
        return deliver(job, rt).action
    except redis.RedisError as exc:
        # Redis is unreachable: keep the message. If the requeue fails too, kombu's
        # visibility timeout brings the message back once Redis is.
        log.error("redis error while delivering: %s; requeueing", exc)
        time.sleep(0.5)  # do not spin on a Redis that is down
        raise Reject(exc, requeue=True) from exc
    except Exception as exc:  # a bug must still leave the job in a known state
        log.exception("internal error while delivering")
        fail_internal(job, rt, exc)
        return "dead"
