"""What a delivery reports as it goes: one log line, one counter and, rarely, one alert.

`delivery.py` calls these and nothing else for observability, so logs, metrics and
alerts stay in one place and the delivery logic stays readable.

Log lines (logger `notify_relay.delivery`; `key=value` text or JSON, see logs.py):

    attempt job=… app=… attempt=2 outcome=transient http_status=503 duration_ms=41.2
    state   job=… attempt=2 status=retrying outcome=transient http_status=503 retry_in_s=0.8
    state   job=… app=… attempt=3 status=succeeded http_status=200 duration_ms=12 message_code=…
            [unknown_identifiers=2]   (how many the endpoint did not know; never which)
    state   job=… attempt=1 status=dead reason=permanent http_status=400 error="…"
    defer   job=… attempt=3 why=circuit_open
    late    job=… attempt=2 outcome=success error="the claim had run out; …"
    circuit status=open job=… http_status=401          (once per episode, at ERROR)

A success is one INFO line (its `attempt` line is DEBUG: the `state` line says it all,
and at a thousand sends a second a line costs ~0.07 ms of CPU). Other attempts and
retries are INFO; a dead letter is a WARNING; stopping every send is an ERROR.
"""

from __future__ import annotations

import logging

from producers.job import Job
from producers.outcomes import Attempt
from worker.classify import Verdict
from worker.failures import FailureClass
from worker.logs import emit
from worker.sentry import Alerts
from worker.store.metrics import Metrics

log = logging.getLogger("notify_relay.delivery")

_ERROR_CHARS = 200


class Events:
    def __init__(self, metrics: Metrics | None = None, alerts: Alerts | None = None) -> None:
        # Without metrics (unit tests, tools) the events still log; alerts are no-ops
        # until Sentry is initialized, so the default is always safe.
        self._metrics = metrics
        self._alerts = alerts or Alerts()

    def attempt(self, job: Job, attempt: Attempt, verdict: Verdict) -> None:
        """One send finished (whatever its class)."""
        failed = verdict.cls is not FailureClass.SUCCESS
        emit(log, logging.INFO if failed else logging.DEBUG, "attempt", job=job.job_id,
             app=job.application, attempt=attempt.number, outcome=verdict.cls.value,
             http_status=verdict.http_status, grpc_code=verdict.grpc_code,
             duration_ms=attempt.duration_ms, ambiguous=verdict.ambiguous or None,
             error=_short(verdict.message) if failed else None)
        if self._metrics:
            self._metrics.attempt(verdict.cls.value, (attempt.duration_ms or 0.0) / 1000)

    def succeeded(self, job: Job, attempt: Attempt,
                  unknown: dict[str, list[str]] | None = None) -> None:
        """Sent; `unknown`: the identifiers the endpoint did not know (counted, not logged)."""
        unknown_count = sum(len(ids) for ids in (unknown or {}).values())
        emit(log, logging.INFO, "state", job=job.job_id, app=job.application,
             attempt=attempt.number, status="succeeded", http_status=attempt.http_status,
             duration_ms=attempt.duration_ms, message_code=attempt.message_code,
             unknown_identifiers=unknown_count or None)
        self._count("succeeded")
        if unknown_count:
            self._count("unknown_identifiers", amount=unknown_count)

    def retrying(self, job: Job, attempt: Attempt, delay_s: float) -> None:
        emit(log, logging.INFO, "state", job=job.job_id, attempt=attempt.number,
             status="retrying", outcome=attempt.outcome, http_status=attempt.http_status,
             retry_in_s=round(delay_s, 3))
        self._count("retries", attempt.outcome)

    def dead(self, job: Job, attempt: Attempt | None, reason: str, error: str | None) -> None:
        number = attempt.number if attempt else job.attempt
        http_status = attempt.http_status if attempt else None
        grpc_code = attempt.grpc_code if attempt else None
        emit(log, logging.WARNING, "state", job=job.job_id, app=job.application,
             attempt=number, status="dead", reason=reason, http_status=http_status,
             error=_short(error))
        self._count("dead", reason)
        self._alerts.dead_letter(job, reason, error, attempt=number, http_status=http_status,
                                 grpc_code=grpc_code)

    def deferred(self, job: Job, why: str) -> None:
        """Given back to wait, unsent and unspent (the circuit opened meanwhile, ...)."""
        emit(log, logging.INFO, "defer", job=job.job_id, attempt=job.attempt, why=_slug(why))
        self._count("deferred", _slug(why))

    def skipped(self, job_id: str, verdict: str, detail: str) -> None:
        emit(log, logging.INFO, "skip", job=job_id, verdict=verdict, detail=detail or None)
        self._count("skipped", verdict)

    def abandoned(self, job: Job) -> None:
        emit(log, logging.WARNING, "state", job=job.job_id, attempt=job.attempt,
             status="ambiguous", error="the previous holder died mid-send")
        self._count("abandoned")

    def late(self, job: Job, attempt: Attempt | None) -> None:
        """This worker's claim ended before it recorded: another holder has the job."""
        emit(log, logging.WARNING, "late", job=job.job_id,
             attempt=attempt.number if attempt else job.attempt,
             outcome=attempt.outcome if attempt else None,
             error="the claim had run out; the attempt is logged as late, nothing else changed")
        self._count("late")

    def circuit_opened(self, job: Job, verdict: Verdict, first: bool) -> None:
        """A 401/403. `first` is True once per episode: alert on that one only."""
        if not first:
            return  # the attempt line already says it; one alert per episode, not per job
        emit(log, logging.ERROR, "circuit", status="open", job=job.job_id,
             app=job.application, http_status=verdict.http_status,
             grpc_code=verdict.grpc_code, error=_short(verdict.message))
        self._count("circuit_opened")
        self._alerts.systemic(job, http_status=verdict.http_status,
                              grpc_code=verdict.grpc_code, message=verdict.message)

    def circuit_closed(self) -> None:
        emit(log, logging.WARNING, "circuit", status="closed", detail="sends resumed")
        self._count("circuit_closed")

    def message(self, jobs: int) -> None:
        """A `deliver` message taken: counted with its jobs (jobs / messages = batching)."""
        self._count("messages")
        self._count("message_jobs", amount=jobs)

    def message_ended(self, state: str) -> None:
        """How a `deliver` message ended, as Flower counts it: succeeded, failed (a job
        died), retried (some wait again), rejected (given back to the queue)."""
        self._count("message_states", state)

    def _count(self, family: str, label: str = "", amount: float = 1) -> None:
        if self._metrics:
            self._metrics.count(family, label, amount)


def _short(text: str | None) -> str | None:
    if not text:
        return None
    return text if len(text) <= _ERROR_CHARS else text[:_ERROR_CHARS] + "…"


def _slug(text: str) -> str:
    """`circuit open` → `circuit_open`: a bounded label (delivery.py's fixed reasons)."""
    return "_".join(text.split()) or "unknown"
