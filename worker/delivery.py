"""One delivery of a handed-out job: claim, check, wait for its slot, send, decide, record.

The Celery task is a thin wrapper around `deliver`. Each step that changes the job is one
Redis script (worker/store/claims.py), so a crash between two steps leaves the job in
exactly one known state: waiting, claimed (its lease runs out and it is taken over), or
recorded. What comes after an attempt is decided by `decide.py`, a pure function.

Times: the claim answers with Redis's clock, and every time this module compares with a
job's deadline or hands to a script is on that clock (`Clock`), so a host whose own clock
is off still expires, backs off and paces correctly.
"""

from __future__ import annotations

import contextlib
import enum
import time
from dataclasses import dataclass, replace

import redis

from producers.job import Job
from producers.outcomes import Attempt, DeadReason, Status
from producers.wire import REQUEST_LIMIT_BYTES
from worker.classify import SendResult, Verdict, classify
from worker.decide import Next, Step, decide
from worker.failures import FailureClass
from worker.runtime import Runtime
from worker.store.claims import Claim, ClaimResult, Item, RecordResult
from worker.store.limiter import DEFAULT_BLOCK_S
from worker.store.unknown import entry as unknown_entry
from worker.unknown_ids import attribute

#: A slot further off than this (a late copy that had to queue again behind a throttled
#: budget) is not waited for on a thread: the job goes back to wait in Redis.
MAX_SLOT_WAIT_S = 5.0


class Action(enum.StrEnum):
    """What `deliver` did with a job (the task's result, logs and tests)."""

    SENT = "sent"
    RETRY = "retry"  # a failed send, parked for a later attempt
    DEAD = "dead"
    SKIPPED = "skipped"  # final already, an old or duplicate copy: nothing sent
    RETURNED = "returned"  # given back to wait, unsent (circuit open, slot too far off)
    LATE = "late"  # sent, but the claim had ended: only the attempt was logged


@dataclass(frozen=True)
class Done:
    action: Action
    detail: str = ""
    job: Job | None = None
    attempt: Attempt | None = None
    due_at: float | None = None  # retry: when (Redis clock, epoch s)


class Clock:
    """Redis's time, estimated from the claim's answer and this host's monotonic clock."""

    def __init__(self, redis_now: float) -> None:
        self._base = redis_now - time.monotonic()

    def now(self) -> float:
        return self._base + time.monotonic()


def deliver(item: Item, rt: Runtime) -> Done:
    owner = rt.claim_owner()
    claim = rt.stores.claims.claim(item, owner=owner, lease_s=rt.lease_s)
    if claim.result is not ClaimResult.CLAIMED or claim.job is None:
        rt.events.skipped(item.job_id, claim.result, claim.detail)
        return Done(Action.SKIPPED, claim.result)
    if claim.abandoned:
        rt.events.abandoned(claim.job)
    clock = Clock(claim.redis_now)
    try:
        done = _before_send(claim, item, owner, rt, clock)
    except redis.RedisError:
        _release_quietly(claim.job, owner, rt)  # nothing was sent: give it back (M4)
        raise
    # After the POST nothing is given back: a Redis error leaves the job claimed, and
    # whoever takes it over logs the send as ambiguous (it may have been delivered).
    return done or _send(claim.job, claim.body, owner, rt, clock, probing=item.probe)


def _before_send(claim: Claim, item: Item, owner: str, rt: Runtime,
                 clock: Clock) -> Done | None:
    """The checks and the wait before a POST: a `Done` when there is to be none."""
    job = claim.job
    assert job is not None
    # The body was validated where it entered (enqueue, or a foreign message taken in:
    # worker/tasks.py); only what a record could not promise is checked again: its size.
    if len(claim.body) >= REQUEST_LIMIT_BYTES:
        return _bury(rt, job, owner, None, DeadReason.PERMANENT,
                     f"invalid request: {len(claim.body)} bytes, over the API's limit", clock)
    if clock.now() >= job.expires_at:
        return _bury(rt, job, owner, None, DeadReason.EXPIRED,
                     "expired before it could be sent", clock)
    if (not item.probe and rt.stores.circuit.is_open()) or claim.wait_s > MAX_SLOT_WAIT_S:
        return _give_back(rt, job, owner, "circuit open" if claim.wait_s <= MAX_SLOT_WAIT_S
                          else "slot too far off")
    if claim.wait_s > 0:
        time.sleep(claim.wait_s)
    return None


def _send(job: Job, body: bytes, owner: str, rt: Runtime, clock: Clock, *,
          probing: bool) -> Done:
    started = clock.now()
    result = rt.http.post(body)
    try:
        verdict = classify(result).capped(min(rt.settings.backoff_max_s,
                                              job.expires_at - clock.now()))
    except Exception as exc:  # a bug after the POST: it may have been sent (M8)
        verdict = Verdict(FailureClass.AMBIGUOUS, http_status=result.status,
                          message=f"internal error reading the answer: {type(exc).__name__}")
    attempt = _attempt(job, started, result, verdict)
    rt.events.attempt(job, attempt, verdict)
    now = clock.now()
    return _apply(job, owner, rt, verdict, attempt, decide(job, verdict, rt.settings, now, rt.rng),
                  clock, probing)


def _attempt(job: Job, started: float, result: SendResult, verdict: Verdict) -> Attempt:
    return Attempt(number=job.attempt + 1, started_at=round(started, 6),
                   duration_ms=result.duration_ms, outcome=verdict.cls.value,
                   http_status=verdict.http_status, grpc_code=verdict.grpc_code,
                   error=verdict.message, message_code=verdict.message_code,
                   ambiguous=verdict.ambiguous)


def _apply(job: Job, owner: str, rt: Runtime, verdict: Verdict, attempt: Attempt, next_: Next,
           clock: Clock, probing: bool) -> Done:
    """Carry out the decided step: its side effects (circuit, budget), then the record."""
    stores = rt.stores
    if next_.trip_circuit:
        first = stores.circuit.trip(verdict.message or "systemic")
        rt.events.circuit_opened(job, verdict, first)
    if next_.throttled:
        stores.budget.throttled(job.application, _block_s(verdict))
    if next_.step is Step.SUCCEED:
        return _succeeded(job, owner, rt, attempt, verdict, probing, clock)
    if next_.step is Step.DEAD:
        assert next_.reason is not None
        return _bury(rt, job, owner, attempt, next_.reason, verdict.message, clock)
    return _retry(job, owner, rt, attempt, next_, clock)


def _block_s(verdict: Verdict) -> float:
    return verdict.retry_after_s if verdict.retry_after_s else DEFAULT_BLOCK_S


def _succeeded(job: Job, owner: str, rt: Runtime, attempt: Attempt, verdict: Verdict,
               probing: bool, clock: Clock) -> Done:
    # Redis's clock as the claim gave it: the record script need not ask Redis for TIME.
    now = clock.now()
    unknown = attribute(verdict.unknown, job.request)
    events = rt.outbox.succeeded(job, attempts=attempt.number, unknown=unknown, now=now,
                                 message_code=attempt.message_code)
    entry = unknown_entry(job.job_id, job.application, now, unknown) if unknown else ""
    if rt.stores.claims.succeed(job, owner, attempt, now=now, unknown=unknown,
                                unknown_entry=entry, events=events) is RecordResult.LATE:
        return _late(rt, job, attempt)
    # Only the probe closes the circuit: one DEL per episode, not one per send.
    if probing and rt.stores.circuit.reset():
        rt.events.circuit_closed()
    rt.events.succeeded(job, attempt, unknown)
    return Done(Action.SENT, attempt.message_code or "", job, attempt)


def _retry(job: Job, owner: str, rt: Runtime, attempt: Attempt, next_: Next,
           clock: Clock) -> Done:
    delay = max(0.0, next_.due_at - clock.now())
    attempt = replace(attempt, retry_in_s=round(delay, 3))
    if rt.stores.claims.retry(job, owner, attempt, next_.due_at, spend=next_.spend,
                              now=clock.now()) is RecordResult.LATE:
        return _late(rt, job, attempt)
    rt.events.retrying(job, attempt, delay)
    return Done(Action.RETRY, f"{delay:.3f}", job, attempt, next_.due_at)


def _bury(rt: Runtime, job: Job, owner: str, attempt: Attempt | None, reason: DeadReason,
          error: str | None, clock: Clock) -> Done:
    now = clock.now()
    events = rt.outbox.dead(job, attempts=attempt.number if attempt else job.attempt,
                            reason=reason, now=now)
    if rt.stores.claims.bury(job, owner, attempt, reason, error, now,
                             events) is RecordResult.LATE:
        return _late(rt, job, attempt)
    rt.events.dead(job, attempt, reason, error)
    return Done(Action.DEAD, reason, job, attempt)


def _give_back(rt: Runtime, job: Job, owner: str, why: str) -> Done:
    """Unsent, no attempt spent: back to the head of its waiting list."""
    rt.stores.claims.release(job, owner)
    rt.events.deferred(job, why)
    return Done(Action.RETURNED, why, job)


def _late(rt: Runtime, job: Job, attempt: Attempt | None) -> Done:
    rt.events.late(job, attempt)
    return Done(Action.LATE, Status.SENDING, job, attempt)


def _release_quietly(job: Job, owner: str, rt: Runtime) -> None:
    """Best effort: if Redis is down this fails too, and the watchdog takes the job over
    once its lease has run out."""
    with contextlib.suppress(redis.RedisError):
        rt.stores.claims.release(job, owner)
