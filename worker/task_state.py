"""The Celery state a `deliver` task ends in, so Flower tells what became of its jobs.

    any job dead                   FAILURE  JobsDead: `2 of 32 job(s) dead: <id> permanent
                                            HTTP 400 gRPC 3; <id> expired (dead=2 sent=30)`
    none dead, some wait again     RETRY    JobsWaiting: `1 of 32 job(s) wait again
                                            (retry=1 sent=31), the first due back at
                                            2026-12-01 22:40:54.377 UTC (in 0.8s)`
    otherwise                      SUCCESS  the counts: `sent=31 skipped=1`

Both exceptions are expected ones, one line each: job ids, reasons, HTTP status and gRPC
code, counts, never content, targets or the token. `JobsDead` is in the task's `throws`
(Celery logs it at INFO without a traceback; sentry-sdk's Celery integration skips
`throws`: the dead letter's own event is the one Sentry gets). `JobsWaiting` is Celery's
`Retry` (acknowledged, not republished: the retry park brings the job back), with a
`repr` that says it all, because that repr is what the `task-retried` event carries.

`MessageState` names how a message ended as Flower counts it (`task-succeeded`,
`task-failed`, `task-retried`, `task-rejected`); the worker counts the same
(`message_states:<state>`, shown by `notify-relay stats`).
"""

from __future__ import annotations

import enum
import time
from collections import Counter
from datetime import UTC, datetime

from celery.exceptions import Reject, Retry

from worker.delivery import Action, Done


class Undelivered(enum.StrEnum):
    """What became of a job besides a delivery's `Action`."""

    REQUEUE = "requeue"  # Redis failed: the message must come back
    UNSTARTED = "unstarted"  # not started (stopping, or the batch ran long): back to wait


class MessageState(enum.StrEnum):
    """How a `deliver` message ended, in the words of Flower's worker counters."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRIED = "retried"
    REJECTED = "rejected"  # given back to the queue (Redis failed): it comes again


class JobsDead(Exception):
    """FAILURE: a task's jobs died. One line naming each and why."""


class JobsWaiting(Retry):
    """RETRY: some of a task's jobs wait again (parked or given back), none died."""

    def __repr__(self) -> str:
        # Celery puts repr(exc) in the task-retried event; Retry's own repr shows its
        # constructor arguments (`Retry(Retry(...), None, 1796164854.37)`), not the message.
        return f"JobsWaiting({self.message!r})"


Result = Done | Undelivered


def outcome(results: list[Result], now: float | None = None) -> str | JobsDead | JobsWaiting:
    """The task's result (its counts), or the exception to raise: see the docstring."""
    summary = counts(results)
    dead = [r for r in results if isinstance(r, Done) and r.action is Action.DEAD]
    if dead:
        return JobsDead(f"{len(dead)} of {len(results)} job(s) dead: "
                        + "; ".join(why(done) for done in dead) + f" ({summary})")
    again = [r for r in results if _waits_again(r)]
    if not again:
        return summary
    due = [r.due_at for r in again if isinstance(r, Done) and r.due_at]
    when = min(due) if due else None
    return JobsWaiting(f"{len(again)} of {len(results)} job(s) wait again ({summary})"
                       + (_due_back(when, time.time() if now is None else now) if when else ""),
                       when=datetime.fromtimestamp(when, UTC) if when else None)


def counts(results: list[Result]) -> str:
    """`dead=1 retry=1 sent=30`: each action (or undelivered fate) and its number."""
    tally = Counter(r.action.value if isinstance(r, Done) else r.value for r in results)
    return " ".join(f"{name}={n}" for name, n in sorted(tally.items())) or "empty"


def why(done: Done) -> str:
    """`<job id> permanent HTTP 400 gRPC 3`: the job, the dead reason, the codes if any."""
    attempt = done.attempt
    code = (f" HTTP {attempt.http_status}" if attempt and attempt.http_status else "") + (
        f" gRPC {attempt.grpc_code}" if attempt and attempt.grpc_code else "")
    return f"{done.job.job_id if done.job else '?'} {done.detail}{code}"


def _waits_again(result: Result) -> bool:
    if isinstance(result, Done):
        return result.action in (Action.RETRY, Action.RETURNED)
    return result is Undelivered.UNSTARTED


def _due_back(when: float, now: float) -> str:
    # The time itself, not only "in 0.8s": Flower shows the line long after it was made.
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f", the first due back at {stamp} UTC (in {max(0.0, when - now):.1f}s)"


def state_of(error: BaseException | None) -> MessageState:
    """The state a message ends in when the task raised `error` (None: it returned)."""
    if error is None:
        return MessageState.SUCCEEDED
    if isinstance(error, Retry):
        return MessageState.RETRIED
    if isinstance(error, Reject) and error.requeue:
        return MessageState.REJECTED
    return MessageState.FAILED  # JobsDead, or an unexpected error: a FAILURE in Flower too
