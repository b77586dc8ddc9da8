"""What a `deliver` task's state says of its jobs (worker/task_state.py): a table of cases.

Flower shows the exception's repr (FAILURE, RETRY) or the result (SUCCESS), so these are
the exact lines an operator reads there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from celery.exceptions import Reject, Retry

from producers.job import Job
from producers.outcomes import Attempt, DeadReason
from worker.delivery import Action, Done
from worker.task_state import (
    JobsDead,
    JobsWaiting,
    MessageState,
    Undelivered,
    counts,
    outcome,
    state_of,
)

NOW = 1_796_164_854.0  # 2026-12-01 22:40:54 UTC


def job(job_id: str) -> Job:
    return Job(job_id=job_id, request={"transactional": {"users": {"list": ["u-secret"]}}},
               enqueued_at=NOW - 5, expires_at=NOW + 60)


def sent(job_id: str) -> Done:
    return Done(Action.SENT, "MSG-CODE", job(job_id), Attempt(1, NOW, 5.0, "success", 200))


def dead(job_id: str, reason: str = DeadReason.PERMANENT, http: int | None = 400,
         grpc: int | None = 3) -> Done:
    attempt = Attempt(1, NOW, 5.0, "permanent", http, grpc, error="bad u-secret") if http \
        else None
    return Done(Action.DEAD, reason, job(job_id), attempt)


def parked(job_id: str, due_in_s: float) -> Done:
    return Done(Action.RETRY, f"{due_in_s:.3f}", job(job_id),
                Attempt(1, NOW, 5.0, "transient", 503), NOW + due_in_s)


def test_a_message_whose_jobs_were_all_sent_succeeds_with_its_counts():
    assert outcome([sent("a"), sent("b"), Done(Action.SKIPPED, "final")], NOW) \
        == "sent=2 skipped=1"
    assert outcome([], NOW) == "empty"


def test_any_dead_job_fails_the_message_naming_each_dead_job_reason_and_codes():
    result = outcome([sent("a"), dead("b"), parked("c", 2.0),
                      dead("d", DeadReason.EXPIRED, http=None)], NOW)

    assert isinstance(result, JobsDead)
    assert repr(result) == ("JobsDead('2 of 4 job(s) dead: b permanent HTTP 400 gRPC 3; "
                            "d expired (dead=2 retry=1 sent=1)')")
    assert "u-secret" not in repr(result)  # the error text may quote targets: never shown


def test_a_message_with_jobs_parked_and_none_dead_is_retried_with_when_the_first_is_due():
    result = outcome([sent("a"), parked("b", 3.0), parked("c", 1.25)], NOW)

    assert isinstance(result, JobsWaiting) and isinstance(result, Retry)
    assert repr(result) == ("JobsWaiting('2 of 3 job(s) wait again (retry=2 sent=1), the first "
                            "due back at 2026-12-01 22:40:55.250 UTC (in 1.2s)')")
    assert result.when == datetime(2026, 12, 1, 22, 40, 55, 250000, tzinfo=UTC)
    assert str(result) == repr(result)[len("JobsWaiting('"):-2]  # Celery's log line


def test_jobs_given_back_unsent_are_waiting_again_without_a_due_time():
    result = outcome([sent("a"), Done(Action.RETURNED, "circuit open", job("b")),
                      Undelivered.UNSTARTED], NOW)

    assert isinstance(result, JobsWaiting)
    assert str(result) == "2 of 3 job(s) wait again (returned=1 sent=1 unstarted=1)"
    assert result.when is None


def test_counts_name_each_action_once_in_order():
    assert counts([sent("a"), Undelivered.REQUEUE, sent("b"), dead("c")]) \
        == "dead=1 requeue=1 sent=2"


@pytest.mark.parametrize(("error", "state"), [
    (None, MessageState.SUCCEEDED),
    (JobsDead("1 of 1 job(s) dead"), MessageState.FAILED),
    (JobsWaiting("1 of 1 job(s) wait again"), MessageState.RETRIED),
    (Reject("requeued", requeue=True), MessageState.REJECTED),
    (Reject("dropped", requeue=False), MessageState.FAILED),  # Celery: task-failed
    (RuntimeError("a bug"), MessageState.FAILED),
])
def test_a_message_ends_in_the_state_flower_counts_it_in(error, state):
    assert state_of(error) is state
