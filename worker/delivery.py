"""One delivery: claim, check, wait for the limiter, send, classify, decide, record.

The Celery task is a thin wrapper around `deliver`. Every branch ends by writing
the job's new state in one Redis transaction (outcome + attempt log + retry park
or dead letter), so a crash between two steps leaves the job in exactly one
known state: still claimed (its lease runs out, the message is redelivered) or
recorded. What comes after an attempt is decided by `decide.py`, a pure function.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, replace
from typing import Any

from producers.job import Job
from producers.outcomes import Attempt, DeadReason, Status
from producers.scripts import execute
from producers.validation import ValidationError, validate
from worker.classify import Verdict, classify
from worker.decide import Next, Step, decide
from worker.runtime import Runtime
from worker.store.circuit import CircuitState
from worker.store.claims import Claim, ClaimResult, parse_claim

#: A limiter wait longer than this parks the job in Redis instead of holding a thread.
MAX_INLINE_WAIT_S = 1.0
#: A parked job is moved back this much before its reserved slot and sleeps the rest.
PARK_EARLY_S = 0.5
#: A job parked while the circuit is open comes back up to this much after the probe
#: time, so the whole backlog does not return in the same millisecond.
CIRCUIT_JITTER_S = 1.0


class Action(enum.StrEnum):
    """What `deliver` did with a job (the task's result, logs and tests)."""

    SENT = "sent"
    RETRY = "retry"  # a failed send, parked for a later attempt
    DEAD = "dead"
    SKIPPED = "skipped"  # final already, or an old copy: nothing sent
    DEFERRED = "deferred"  # parked without a send (limiter, circuit, another's lease)


@dataclass(frozen=True)
class Done:
    action: Action
    status: str
    detail: str = ""


def deliver(payload: dict[str, Any], rt: Runtime, now: float | None = None) -> Done:
    job = Job.from_dict(payload)
    claim, wait_s = _claim(job, rt, now)
    if claim.result in (ClaimResult.FINAL, ClaimResult.STALE):
        rt.events.skipped(job, claim.result, claim.detail)
        return Done(Action.SKIPPED,
                    claim.detail if claim.result is ClaimResult.FINAL else ClaimResult.STALE)
    if claim.result is ClaimResult.LEASED:
        # Another worker is sending this job now; look again when its lease ends.
        return _defer(rt, job, int(claim.detail) / 1000, Status.SENDING, "leased elsewhere")
    if claim.abandoned:
        rt.events.abandoned(job)
    # Go on from the stored count: a takeover moves it on, maybe past this copy's (claim.lua).
    job = replace(job, attempt=claim.attempts,
                  attempts_spent=job.attempts_spent + int(claim.abandoned))
    return _deliver_claimed(job, rt, time.time() if now is None else now, wait_s)


def _claim(job: Job, rt: Runtime, now: float | None) -> tuple[Claim, float | None]:
    """Claim the job and, when it will most likely be sent at once, ask the limiter in the
    same round trip (its answer, or None when it was not asked).

    Most likely: not expired and the circuit seen closed just now. Then a claim that
    fails anyway (a duplicate copy, a request the worker finds invalid) costs one limiter
    slot, which is rare; the common send saves a round trip (~0.1 ms of CPU).
    """
    stores = rt.stores
    owner = rt.claim_owner()
    at = time.time() if now is None else now
    if at >= job.expires_at or not stores.circuit.known_closed():
        return stores.claims.claim(job, owner=owner, lease_s=rt.lease_s, now=now), None
    pipe = stores.redis.pipeline(transaction=False)
    stores.claims.queue_claim(pipe, job, owner=owner, lease_s=rt.lease_s, now=now)
    stores.limiter.queue_acquire(pipe, job.application, at, holder=job.job_id)
    claimed, acquired = execute(pipe)
    return parse_claim(job, claimed), stores.limiter.parse_acquire(acquired)


def _deliver_claimed(job: Job, rt: Runtime, now: float, wait_s: float | None) -> Done:
    try:
        validate(job.request, max_targets=rt.settings.max_targets)
    except ValidationError as exc:
        return _dead(rt, job, None, DeadReason.PERMANENT, f"invalid request: {exc}")
    if now >= job.expires_at:
        return _dead(rt, job, None, DeadReason.EXPIRED, "expired before it could be sent")
    circuit = rt.stores.circuit.check(now)
    if circuit.blocked:
        return _defer(rt, job, circuit.until + rt.rng.uniform(0, CIRCUIT_JITTER_S),
                      Status.RETRYING, "circuit open")
    park_until = _await_slot(job, rt, wait_s)
    if park_until:
        return _defer(rt, job, park_until, Status.RETRYING, "rate limited")
    return _send(job, rt, probing=circuit.state is CircuitState.PROBE)


def _await_slot(job: Job, rt: Runtime, asked: float | None) -> float:
    """Wait inline for the limiter's slot (0.0: send now), or return when to park.

    `asked` is the limiter's answer given with the claim, if it was asked then. The
    limiter keeps a slot reserved for this job id until it asks again: after a short
    sleep (which also notices a 429 that came meanwhile), or when the parked job is
    back. It is parked PARK_EARLY_S early, since the mover polls.
    """
    limiter = rt.stores.limiter
    now = time.time()  # not the delivery's start: the claim and checks since would count
    wait_s = asked if asked is not None else limiter.acquire(job.application, now,
                                                             holder=job.job_id)
    if wait_s > 0:
        rt.events.limiter_wait(job, wait_s)
    while 0 < wait_s <= MAX_INLINE_WAIT_S:
        time.sleep(max(0.0, now + wait_s - time.time()))  # to the slot: the call took time
        now = time.time()
        wait_s = limiter.acquire(job.application, now, holder=job.job_id)
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
    now = time.time()
    return _apply(job, rt, verdict, attempt, decide(job, verdict, rt.settings, now, rt.rng),
                  now, probing)


def _apply(job: Job, rt: Runtime, verdict: Verdict, attempt: Attempt, next_: Next,
           now: float, probing: bool) -> Done:
    """Carry out the decided step: the side effects first, then the record."""
    if next_.trip_circuit:
        first = rt.stores.circuit.trip(now, verdict.message or "systemic")
        rt.events.circuit_opened(job, verdict, first)
    if next_.throttled:
        rt.stores.limiter.on_throttled(job.application, verdict.retry_after_s, now)
    if next_.step is Step.SUCCEED:
        return _succeeded(job, rt, attempt, now, probing)
    if next_.step is Step.DEAD:
        assert next_.reason is not None
        return _dead(rt, job, attempt, next_.reason, verdict.message)
    return _retry(job, rt, attempt, next_.due_at, spend=next_.spend)


def _succeeded(job: Job, rt: Runtime, attempt: Attempt, now: float, probing: bool) -> Done:
    # No MULTI: the record comes first, and a watch entry left behind by a lost
    # connection is harmless (the watchdog forgets final jobs). Other branches park
    # a message or add a dead letter with the record, and keep their transaction.
    stores = rt.stores
    pipe = stores.redis.pipeline(transaction=False)
    stores.claims.record(pipe, job, attempt, Status.SUCCEEDED,
                         message_code=attempt.message_code or "")
    stores.watchdog.untrack(pipe, job.job_id)
    execute(pipe)
    stores.limiter.on_success(job.application, now)
    # Only the probe closes the circuit: one DEL per episode, not one per send.
    if probing and stores.circuit.reset():
        rt.events.circuit_closed()
    rt.events.succeeded(job, attempt)
    return Done(Action.SENT, Status.SUCCEEDED.value, attempt.message_code or "")


def _retry(job: Job, rt: Runtime, attempt: Attempt, due_at: float, *, spend: bool) -> Done:
    stores = rt.stores
    delay = max(0.0, due_at - time.time())
    attempt = replace(attempt, retry_in_s=round(delay, 3))
    pipe = stores.redis.pipeline()
    stores.claims.record(pipe, job, attempt, Status.RETRYING, next_attempt_at=due_at,
                         last_error=attempt.error or "")
    message = stores.park.park(pipe, job.next(spend=spend), due_at)
    stores.watchdog.track(pipe, job.job_id, message, due_at)
    execute(pipe)
    rt.events.retrying(job, attempt, delay)
    return Done(Action.RETRY, Status.RETRYING.value, f"{delay:.3f}")


def _defer(rt: Runtime, job: Job, due_at: float, status: Status, why: str) -> Done:
    """Park without a send and without spending an attempt (limiter, circuit, lease)."""
    stores = rt.stores
    pipe = stores.redis.pipeline()
    message = stores.park.park(pipe, job, due_at)
    if status is not Status.SENDING:  # a lease held elsewhere is not ours to release
        stores.claims.release(pipe, job, status)
        # The watchdog keeps the job's current message; a copy deferred past another
        # worker's lease may be an old one, so that one is not watched.
        stores.watchdog.track(pipe, job.job_id, message, due_at)
    execute(pipe)
    rt.events.deferred(job, max(0.0, due_at - time.time()), why)
    return Done(Action.DEFERRED, status.value, why)


def _dead(rt: Runtime, job: Job, attempt: Attempt | None, reason: DeadReason,
          error: str | None) -> Done:
    stores = rt.stores
    pipe = stores.redis.pipeline()
    stores.claims.record(pipe, job, attempt, Status.DEAD, dead_reason=reason.value,
                         last_error=error or "")
    done = job.next(spend=False) if attempt else job
    stores.dead.add(pipe, done, reason, error)
    stores.watchdog.untrack(pipe, job.job_id)
    execute(pipe)
    rt.events.dead(job, attempt, reason, error)
    return Done(Action.DEAD, Status.DEAD.value, reason)


def fail_internal(payload: dict[str, Any], rt: Runtime, exc: BaseException) -> Done:
    """An unexpected error: dead-letter the job (reason `permanent`) with the error."""
    job = Job.from_dict(payload)
    return _dead(rt, job, None, DeadReason.PERMANENT,
                 f"internal error: {type(exc).__name__}: {exc}")
