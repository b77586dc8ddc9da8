"""What happens after an attempt: one pure function from (job, verdict, settings, now) to a step.

| the send's class                | next step                                             |
|---------------------------------|-------------------------------------------------------|
| success                         | succeed                                               |
| permanent                       | dead `permanent`                                      |
| systemic (401/403)              | open the circuit; retry at the next probe (not spent) |
| throttled (429)                 | slow the limiter; retry after max(backoff,            |
|                                 | Retry-After) (not spent)                              |
| ambiguous, retries of ambiguous | dead `ambiguous`                                      |
|   sends off                     |                                                       |
| other failure, budget spent     | dead `max_attempts`                                   |
| other failure                   | retry after the backoff, one attempt spent            |

A retry never comes back after the job's deadline: it is due at `expires_at` at the
latest, and expires then. The I/O each step needs is `delivery.py`'s; this only decides,
so the table is tested row by row without Redis or an endpoint (tests/worker/test_decide.py).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from producers.job import Job
from producers.outcomes import DeadReason
from producers.settings import Settings
from worker.backoff import retry_delay_s
from worker.classify import Verdict
from worker.failures import FailureClass


class Step(enum.StrEnum):
    SUCCEED = "succeed"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Next:
    """The step after an attempt, with what it needs."""

    step: Step
    reason: DeadReason | None = None  # dead: why
    due_at: float = 0.0  # retry: when (epoch s)
    spend: bool = False  # retry: counts against NOTIFY_MAX_ATTEMPTS
    trip_circuit: bool = False  # a systemic failure: stop every send
    throttled: bool = False  # a 429: slow the shared rate limit down


def decide(job: Job, verdict: Verdict, settings: Settings, now: float,
           rng: random.Random) -> Next:
    cls = verdict.cls
    if cls is FailureClass.SUCCESS:
        return Next(Step.SUCCEED)
    if cls is FailureClass.PERMANENT:
        return Next(Step.DEAD, DeadReason.PERMANENT)
    if cls is FailureClass.SYSTEMIC:
        return _retry(job, now + settings.circuit_probe_interval_s, spend=False,
                      trip_circuit=True)
    if cls is FailureClass.THROTTLED:
        delay = _backoff(job, settings, rng, retry_after_s=verdict.retry_after_s or 0.0)
        return _retry(job, now + delay, spend=False, throttled=True)
    if cls is FailureClass.AMBIGUOUS and not settings.retry_ambiguous:
        return Next(Step.DEAD, DeadReason.AMBIGUOUS)
    if job.attempts_spent + 1 >= settings.max_attempts:
        return Next(Step.DEAD, DeadReason.MAX_ATTEMPTS)
    return _retry(job, now + _backoff(job, settings, rng), spend=True)


def _backoff(job: Job, settings: Settings, rng: random.Random,
             retry_after_s: float | None = None) -> float:
    return retry_delay_s(job.attempts_spent, base_s=settings.backoff_base_s,
                         cap_s=settings.backoff_max_s, rng=rng, retry_after_s=retry_after_s)


def _retry(job: Job, due_at: float, *, spend: bool, trip_circuit: bool = False,
           throttled: bool = False) -> Next:
    # A retry after the deadline is pointless: come back at the deadline and expire then.
    return Next(Step.RETRY, due_at=min(due_at, job.expires_at), spend=spend,
                trip_circuit=trip_circuit, throttled=throttled)
