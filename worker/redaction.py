"""What the worker tells Flower (and any `celery inspect`) about a task: a summary, never the job.

A job's argument holds device tokens, user ids, e-mail addresses and message bodies.
Celery lets three paths carry task arguments out of the worker:

1. the `task-received` event: Celery sends `Request.argsrepr`, which is the `argsrepr`
   message header. The dispatcher sets it to the job ids, but a message published by
   anything else (`app.send_task`, Flower's "send task") would carry `saferepr(args)`;
2. `inspect active / reserved / scheduled / query_task`, which Flower runs when a worker
   page is opened: `Request.info()` returns the *real* args unless called with
   `safe=True`, and `reserved`, `scheduled` and `query_task` never pass it;
3. the `task-sent` event of a publisher using `Task.apply_async` (argsrepr, see 1).

`SummaryRequest` closes 1 and 2 in the worker, whatever the publisher sent: both show
the summary the worker computes from the job itself. `SummaryTask` closes 3 for callers
that publish through the task object. The task's result (`sent=3 skipped=1`) and its
failure (`2 of 32 job(s) dead: <id> permanent HTTP 400; ...`) carry ids and counts only
(worker/task_state.py), and an expected outcome (an exception in the task's `throws`, or a
`Retry`) reaches Flower as that one line: its `task-failed` / `task-retried` event carries
no traceback, which would only point at the line that raised it.
"""

from __future__ import annotations

from typing import Any

from billiard.einfo import ExceptionInfo, ExceptionWithTraceback
from celery import Task
from celery.exceptions import Retry
from celery.worker.request import Request

from producers.job import Job


def summarize_args(args: Any) -> str:
    """What a task's arguments may show, as a one-element tuple's repr:

    * `deliver(items)`: `('deliver N: <job id> <job id> ...',)`, every job id it carries
      (ids only), so Flower's search finds a task by any of its jobs;
    * `send(job)`: `('job=… kind=… app=… platforms=… targets=N attempt=N',)`;
    * `send_batch(jobs)`: `('batch of N: <job id> <job id> ...',)`.
    """
    try:
        [payload] = args
        if isinstance(payload, list) and all(isinstance(i, list) for i in payload):
            ids = " ".join(str(item[0]) for item in payload)
            return repr((f"deliver {len(payload)}: {ids}",))
        if isinstance(payload, list):
            ids = " ".join(Job.from_dict(item).job_id for item in payload)
            return repr((f"batch of {len(payload)}: {ids}",))
        return repr((Job.from_dict(payload).summary(),))
    except Exception:
        # Whatever a publisher sent: Celery asks for this in its consumer, before the task
        # runs, where an exception is "unrecoverable" and stops the worker, and the message,
        # restored, stops the next one (`attempt: Infinity` raised OverflowError here).
        return "('<not a notify-relay job>',)"


class SummaryRequest(Request):
    """A worker-side request whose every outward view of its arguments is the summary."""

    @property
    def argsrepr(self) -> str:
        return summarize_args(self._args)

    @property
    def kwargsrepr(self) -> str:
        return "{}" if not self._kwargs else "{'<redacted>': ...}"

    def on_failure(self, exc_info: ExceptionInfo, send_failed_event: bool = True,
                   return_ok: bool = False) -> Any:
        error = exc_info.exception
        if isinstance(error, ExceptionWithTraceback):
            error = error.exc
        self._expected = isinstance(error, (Retry, *self.task.throws))
        return super().on_failure(exc_info, send_failed_event=send_failed_event,
                                  return_ok=return_ok)

    def send_event(self, type: str, **fields: Any) -> None:  # noqa: A002 (Celery's name)
        if getattr(self, "_expected", False) and "traceback" in fields:
            fields["traceback"] = ""
        super().send_event(type, **fields)

    def info(self, safe: bool = False) -> dict[str, Any]:
        details: dict[str, Any] = super().info(safe=True)
        details["args"] = self.argsrepr
        details["kwargs"] = self.kwargsrepr
        return details


class SummaryTask(Task):  # type: ignore[misc]
    """The app's task base class: worker requests and publishes both use the summary."""

    Request = SummaryRequest

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        options.setdefault("argsrepr", summarize_args(args or ()))
        options.setdefault("kwargsrepr", "{}")
        return super().apply_async(args, kwargs, **options)
