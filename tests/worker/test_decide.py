"""`decide`: the step after an attempt, one row of its table per test (worker/decide.py)."""

from __future__ import annotations

import random

import pytest

from producers.job import Job
from producers.outcomes import DeadReason
from producers.settings import Settings
from worker.classify import Verdict
from worker.decide import Next, Step, decide
from worker.failures import FailureClass as C

NOW = 1_000.0
SETTINGS = Settings(max_attempts=3, backoff_base_s=1.0, backoff_max_s=8.0,
                    circuit_probe_interval_s=10.0)


def job(spent: int = 0, expires_at: float = NOW + 3_600) -> Job:
    return Job(job_id="j", request={}, enqueued_at=NOW - 1, expires_at=expires_at,
               attempts_spent=spent)


def step(verdict: Verdict, *, spent: int = 0, settings: Settings = SETTINGS,
         expires_at: float = NOW + 3_600) -> Next:
    return decide(job(spent, expires_at), verdict, settings, NOW, random.Random(7))


def test_a_success_succeeds() -> None:
    assert step(Verdict(C.SUCCESS, http_status=200)) == Next(Step.SUCCEED)


def test_a_permanent_failure_is_dead_at_once_whatever_the_budget() -> None:
    assert step(Verdict(C.PERMANENT, http_status=400)) == Next(Step.DEAD, DeadReason.PERMANENT)


def test_a_systemic_failure_opens_the_circuit_and_retries_at_the_probe_unspent() -> None:
    next_ = step(Verdict(C.SYSTEMIC, http_status=401), spent=2)
    assert next_ == Next(Step.RETRY, due_at=NOW + 10.0, spend=False, trip_circuit=True)


def test_a_throttled_send_waits_at_least_retry_after_slows_the_limiter_and_spends_nothing() -> None:
    next_ = step(Verdict(C.THROTTLED, http_status=429, retry_after_s=30.0), spent=2)
    assert (next_.step, next_.spend, next_.throttled) == (Step.RETRY, False, True)
    assert next_.due_at == NOW + 30.0


def test_an_ambiguous_send_is_dead_when_ambiguous_retries_are_off() -> None:
    next_ = step(Verdict(C.AMBIGUOUS), settings=SETTINGS.replace(retry_ambiguous=False))
    assert next_ == Next(Step.DEAD, DeadReason.AMBIGUOUS)


@pytest.mark.parametrize("cls", [C.TRANSIENT, C.AMBIGUOUS])
def test_a_retryable_failure_with_the_budget_spent_is_dead_max_attempts(cls: C) -> None:
    assert step(Verdict(cls), spent=2) == Next(Step.DEAD, DeadReason.MAX_ATTEMPTS)


@pytest.mark.parametrize("cls", [C.TRANSIENT, C.AMBIGUOUS])
def test_a_retryable_failure_retries_within_the_backoff_and_spends_one(cls: C) -> None:
    next_ = step(Verdict(cls), spent=1)
    assert (next_.step, next_.spend, next_.trip_circuit, next_.throttled) == (
        Step.RETRY, True, False, False)
    assert NOW <= next_.due_at <= NOW + 2.0  # full jitter under base * 2**1


def test_a_retry_never_comes_back_after_the_deadline() -> None:
    next_ = step(Verdict(C.THROTTLED, retry_after_s=600.0), expires_at=NOW + 5)
    assert next_.due_at == NOW + 5
