"""Celery task messages built by hand, so that enqueue can be one atomic Redis script.

The format is Celery's task protocol 2 inside kombu's Redis transport envelope,
exactly what `app.send_task` would LPUSH (tests/producers/test_message.py checks
a real worker consumes it). Building it ourselves lets the outcome record, the
idempotency key and the message land in one script: no window where a job is
queued without an outcome, or recorded without being queued.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from typing import Any

from producers.job import TASK_NAME, Job

_ORIGIN = f"notify-relay-producer@{socket.gethostname()}:{os.getpid()}"


def task_message(job: Job, queue: str) -> str:
    """The kombu/Redis JSON for one `notify_relay.send(job)` task on `queue`."""
    task_id = str(uuid.uuid4())
    body = json.dumps([[job.to_dict()], {}, _EMBED], separators=(",", ":"))
    summary = job.summary()
    headers: dict[str, Any] = {
        "lang": "py",
        "task": TASK_NAME,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": job.attempt,
        "timelimit": [None, None],
        "root_id": job.job_id,
        "parent_id": None,
        "argsrepr": f"({summary!r},)",
        "kwargsrepr": "{}",
        "origin": _ORIGIN,
        "ignore_result": True,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    envelope = {
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
