"""Celery task messages built by hand, so that enqueue can be one atomic Redis script.

The format is Celery's task protocol 2 inside kombu's Redis transport envelope,
exactly what `app.send_task` would LPUSH (the integration tests run these messages
through real workers). Building it ourselves lets the outcome record, the
idempotency key and the message land in one script: no window where a job is
queued without an outcome, or recorded without being queued.

Two tasks: `notify_relay.send(job)` carries one job; `notify_relay.send_batch(jobs)`
carries several (what `Producer.enqueue_many` publishes), so Celery's cost per
message (~2 ms of CPU: receive, request, pool, ack) is paid once per batch.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from typing import Any

from producers.job import BATCH_TASK_NAME, TASK_NAME, Job

#: The envelope field holding how many jobs a message carries.
JOBS_FIELD = "notify_jobs"

_ORIGIN = f"notify-relay-producer@{socket.gethostname()}:{os.getpid()}"


def task_message(job: Job, queue: str) -> str:
    """The kombu/Redis JSON for one `notify_relay.send(job)` task on `queue`."""
    return _message(TASK_NAME, job.to_dict(), f"({job.summary()!r},)", root_id=job.job_id,
                    retries=job.attempt, queue=queue, task_id=str(uuid.uuid4()))


def batch_message(jobs: list[Job], queue: str, task_id: str) -> str:
    """The kombu/Redis JSON for one `notify_relay.send_batch(jobs)` task on `queue`."""
    return _message(BATCH_TASK_NAME, [job.to_dict() for job in jobs],
                    batch_summary(jobs), root_id=task_id, retries=0, queue=queue,
                    task_id=task_id)


def batch_watch_id(task_id: str) -> str:
    """The watchdog's name for a batch message (a job's is its job id)."""
    return f"batch:{task_id}"


def batch_summary(jobs: list[Job]) -> str:
    """What Flower shows for a batch: how many jobs, and the first one's summary."""
    first = jobs[0].summary() if jobs else "empty"
    return f"('batch of {len(jobs)}: {first}, ...',)"


def _message(task: str, argument: Any, argsrepr: str, *, root_id: str, retries: int,
             queue: str, task_id: str) -> str:
    body = json.dumps([[argument], {}, _EMBED], separators=(",", ":"))
    headers: dict[str, Any] = {
        "lang": "py",
        "task": task,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": retries,
        "timelimit": [None, None],
        "root_id": root_id,
        "parent_id": None,
        "argsrepr": argsrepr,
        "kwargsrepr": "{}",
        "origin": _ORIGIN,
        "ignore_result": True,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    envelope = {
        # First, so a Lua count of the queue's jobs finds it at once (worker/stats.py);
        # kombu ignores keys it does not know and keeps them when it restores a message.
        JOBS_FIELD: len(argument) if isinstance(argument, list) else 1,
        "body": base64.b64encode(body.encode()).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(envelope, separators=(",", ":"))


_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
