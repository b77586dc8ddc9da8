"""One delivery: claim, check, wait for the limiter, send, classify, record.

The Celery task is a thin wrapper around `deliver`. Every branch ends by writing
the job's new state in one Redis transaction (outcome + attempt log + retry park
or dead letter), so a crash between two steps leaves the job in exactly one
known state: still claimed (its lease runs out, the message is redelivered) or
recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from producers.job import Job
from producers.outcomes import Attempt, Claim, Status, parse_claim
from producers.validation import ValidationError, validate
from worker.backoff import retry_delay_s
from worker.classify import Verdict, classify
from worker.errors import FailureClass
from worker.runtime import Runtime

#: A limiter wait longer than this parks the job in Redis instead of holding a thread.
MAX_INLINE_WAIT_S = 1.0
#: A parked job is moved back this much before its reserved slot and sleeps the rest.
PARK_EARLY_S = 0.5


@dataclass(frozen=True)
class Done:
    """What `deliver` did, for the task's return value, logs and tests."""

    action: str  # sent, retry, dead, skipped, deferred
    status: str
    detail: str = ""


def deliver(payload: dict[str, Any], rt: Runtime, now: float | None = None) -> Done:
    job = Job.from_dict(payload)
    claim, wait_s = _claim(job, rt, now)
    if claim.verdict in ("final", "stale"):
        rt.events.skipped(job, claim.verdict, claim.detail)
        return Done("skipped", claim.detail if claim.verdict == "final" else "stale")
    if claim.verdict == "leased":
        # Another worker is sending this job now; look again when its lease ends.
        return _defer(rt, job, int(claim.detail) / 1000, Status.SENDING, "leased elsewhere")
    if claim.abandoned:
        rt.events.abandoned(job)
    # Go on from the stored count: a takeover moves it on, maybe past this copy's (_CLAIM).
    job = replace(job, attempt=claim.attempts, retries=job.retries + int(claim.abandoned))
    return _deliver_claimed(job, rt, time.time() if now is None else now, wait_s)


def _claim(job: Job, rt: Runtime, now: float | None) -> tuple[Claim, float | None]:
    """Claim the job and, when it will most likely be sent at once, ask the limiter in the
    same round trip (its answer, or None when it was not asked).

    Most likely: not expired and the circuit seen closed just now. Then a claim that
    fails anyway (a duplicate copy, a request the worker finds invalid) costs one limiter
    slot, which is rare; the common send saves a round trip (~0.1 ms of CPU).
    """
    owner = rt.claim_owner()
    at = time.time() if now is None else now
    if at >= job.expires_at or not rt.circuit.known_closed():
        return rt.outcomes.claim(job, owner=owner, lease_s=rt.lease_s, now=now), None
    pipe = rt.redis.pipeline(transaction=False)
    rt.outcomes.queue_claim(pipe, job, owner=owner, lease_s=rt.lease_s, now=now)
    rt.limiter.queue_acquire(pipe, job.application, at, holder=job.job_id)
    claimed, acquired = pipe.execute(raise_on_error=False)
    # NOSCRIPT after a Redis restart: ask again through the scripts, which load
    # themselves (the same owner and holder: the same claim, the same reservation).
    claim = (rt.outcomes.claim(job, owner=owner, lease_s=rt.lease_s, now=now)
             if isinstance(claimed, Exception) else parse_claim(job, claimed))
    if isinstance(acquired, Exception):
        return claim, None
    return claim, rt.limiter.parse_acquire(acquired)


def _deliver_claimed(job: Job, rt: Runtime, now: float, wait_s: float | None) -> Done:
    try:
        validate(job.request, max_targets=rt.settings.max_targets)
    except ValidationError as exc:
        return _dead(rt, job, None, "permanent", f"invalid request: {exc}")
    if now >= job.expires_at:
        return _dead(rt, job, None, "expired", "expired before it could be sent")
    circuit = rt.circuit.check(now)
    if circuit.blocked:
        return _defer(rt, job, circuit.until + rt.rng.uniform(0, 1), Status.RETRYING,
                      "circuit open")
    park_until = _await_slot(job, rt, wait_s)
    if park_until:
        return _defer(rt, job, park_until, Status.RETRYING, "rate limited")
    return _send(job, rt, probing=circuit.state == "probe")


def _await_slot(job: Job, rt: Runtime, asked: float | None) -> float:
    """Wait inline for the limiter's slot (0.0: send now), or return when to park.

    `asked` is the limiter's answer given with the claim, if it was asked then. The
    limiter keeps a slot reserved for this job id until it asks again: after a short
    sleep (which also notices a 429 that came meanwhile), or when the parked job is
    back. It is parked PARK_EARLY_S early, since the mover polls.
    """
    now = time.time()  # not the delivery's start: the claim and checks since would count
    wait_s = asked if asked is not None else rt.limiter.acquire(job.application, now,
                                                                holder=job.job_id)
    if wait_s > 0:
        rt.events.limiter_wait(job, wait_s)
    while 0 < wait_s <= MAX_INLINE_WAIT_S:
        time.sleep(max(0.0, now + wait_s - time.time()))  # to the slot: the call took time
        now = time.time()
        wait_s = rt.limiter.acquire(job.application, now, holder=job.job_id)
    return now + wait_s - PARK_EARLY_S if wait_s > 0 else 0.0


def _send(job: Job, rt: Runtime, *, probing: bool) -> Done:
    started = time.time()
    result = rt.http.post(job.request)
    verdict = classify(result)
    attempt = Attempt(
        number=job.attempt + 1, started_at=started, duration_ms=result.duration_ms,
        outcome=verdict.cls.value, http_status=verdict.http_status,
        grpc_code=verdict.grpc_code, error=verdict.message,
        message_code=verdict.message_code, ambiguous=verdict.ambiguous,
    )
    rt.events.attempt(job, attempt, verdict)
    return _apply(job, rt, verdict, attempt, time.time(), probing)


def _apply(job: Job, rt: Runtime, verdict: Verdict, attempt: Attempt, now: float,
           probing: bool) -> Done:
    cls = verdict.cls
    if cls is FailureClass.SUCCESS:
        return _succeeded(job, rt, attempt, now, probing)
    if cls is FailureClass.PERMANENT:
        return _dead(rt, job, attempt, "permanent", verdict.message)
    if cls is FailureClass.SYSTEMIC:
        first = rt.circuit.trip(now, verdict.message or "systemic")
        rt.events.circuit_opened(job, verdict, first)
        return _retry(job, rt, attempt, now + rt.settings.circuit_probe_interval_s,
                      spend=False)
    if cls is FailureClass.THROTTLED:
        rt.limiter.on_throttled(job.application, verdict.retry_after_s, now)
        delay = retry_delay_s(job.retries, base_s=rt.settings.backoff_base_s,
                              cap_s=rt.settings.backoff_max_s, rng=rt.rng,
                              retry_after_s=verdict.retry_after_s or 0.0)
        return _retry(job, rt, attempt, now + delay, spend=False)
    if cls is FailureClass.AMBIGUOUS and not rt.settings.retry_ambiguous:
        return _dead(rt, job, attempt, "ambiguous", verdict.message)
    if job.retries + 1 >= rt.settings.max_attempts:
        return _dead(rt, job, attempt, "max_attempts", verdict.message)
    delay = retry_delay_s(job.retries, base_s=rt.settings.backoff_base_s,
                          cap_s=rt.settings.backoff_max_s, rng=rt.rng)
    return _retry(job, rt, attempt, now + delay, spend=True)


def _succeeded(job: Job, rt: Runtime, attempt: Attempt, now: float, probing: bool) -> Done:
    # No MULTI: the record comes first, and a watch entry left behind by a lost
    # connection is harmless (the watchdog forgets final jobs). Other branches park
    # a message or add a dead letter with the record, and keep their transaction.
    pipe = rt.redis.pipeline(transaction=False)
    rt.outcomes.record(pipe, job, attempt, Status.SUCCEEDED,
                       message_code=attempt.message_code or "")
    rt.watchdog.untrack(pipe, job.job_id)
    pipe.execute()
    rt.limiter.on_success(job.application, now)
    # Only the probe closes the circuit: one DEL per episode, not one per send.
    if probing and rt.circuit.reset():
        rt.events.circuit_closed()
    rt.events.succeeded(job, attempt)
    return Done("sent", Status.SUCCEEDED.value, attempt.message_code or "")


def _retry(job: Job, rt: Runtime, attempt: Attempt, due_at: float, *, spend: bool) -> Done:
    # A retry after the deadline is pointless: come back at the deadline and expire then.
    due_at = min(due_at, job.expires_at)
    delay = max(0.0, due_at - time.time())
    attempt = Attempt(**{**attempt.__dict__, "retry_in_s": round(delay, 3)})
    pipe = rt.redis.pipeline()
    rt.outcomes.record(pipe, job, attempt, Status.RETRYING, next_attempt_at=due_at,
                       last_error=attempt.error or "")
    message = rt.retries.park(pipe, job.next(spend_retry=spend), due_at)
    rt.watchdog.track(pipe, job.job_id, message, due_at)
    pipe.execute()
    rt.events.retrying(job, attempt, delay)
    return Done("retry", Status.RETRYING.value, f"{delay:.3f}")


def _defer(rt: Runtime, job: Job, due_at: float, status: Status, why: str) -> Done:
    """Park without a send and without spending an attempt (limiter, circuit, lease)."""
    pipe = rt.redis.pipeline()
    message = rt.retries.park(pipe, job, due_at)
    if status is not Status.SENDING:  # a lease held elsewhere is not ours to release
        rt.outcomes.release(pipe, job, status)
        # The watchdog keeps the job's current message; a copy deferred past another
        # worker's lease may be an old one, so that one is not watched.
        rt.watchdog.track(pipe, job.job_id, message, due_at)
    pipe.execute()
    rt.events.deferred(job, max(0.0, due_at - time.time()), why)
    return Done("deferred", status.value, why)


def _dead(rt: Runtime, job: Job, attempt: Attempt | None, reason: str,
          error: str | None) -> Done:
    pipe = rt.redis.pipeline()
    rt.outcomes.record(pipe, job, attempt, Status.DEAD, dead_reason=reason,
                       last_error=error or "")
    done = job.next(spend_retry=False) if attempt else job
    rt.dead.add(pipe, done, reason, error)
    rt.watchdog.untrack(pipe, job.job_id)
    pipe.execute()
    rt.events.dead(job, attempt, reason, error)
    return Done("dead", Status.DEAD.value, reason)


def fail_internal(payload: dict[str, Any], rt: Runtime, exc: BaseException) -> Done:
    """An unexpected error: dead-letter the job (reason `permanent`) with the error."""
    job = Job.from_dict(payload)
    return _dead(rt, job, None, "permanent", f"internal error: {type(exc).__name__}: {exc}")
