"""Enqueueing, without I/O: what `Producer` and `AsyncProducer` share.

Both validate the same way, name jobs the same way and build the same calls of the
enqueue script (lua/enqueue.lua), then read its replies the same way; only how the calls
reach Redis differs (blocking, or awaited). So there is one implementation of the rules:

    plan = Enqueuer(settings).plan(requests, priority="urgent", ...)
    replies = [run(script, call.keys, call.args) for call in plan.calls]
    job_ids = plan.job_ids(replies)        # JobId: a str, with .duplicate
    enqueuer.check_replicated(job_ids, acked)   # with NOTIFY_ENQUEUE_MIN_REPLICAS > 0

With NOTIFY_ENQUEUE_MIN_REPLICAS > 0 the script calls travel with a WAIT on their own
connection (`producers.scripts.execute_and_wait`), and too few acknowledgements raise
`NotReplicated` naming the jobs. A repeat with the same idempotency key writes nothing new
but still propagates (the script always touches the dispatchers' wake-up list), so its WAIT
covers the first write too: the repeat returns only once the job is on the replicas.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from producers.exceptions import NotReplicated
from producers.job import Priority
from producers.keys import Keys
from producers.outcomes import Status
from producers.scripts import Script
from producers.settings import Settings
from producers.wire import request_json

ENQUEUE = Script(Path(__file__).with_name("lua") / "enqueue.lua", Status)

#: Jobs per script call: large enough that a big enqueue_many is a few round trips,
#: small enough that one call holds Redis for a millisecond or two.
JOBS_PER_CALL = 256
#: The script's arguments: a head shared by every job of a call, then each job's.
HEAD_ARGS = 6
JOB_ARGS = 6


@dataclass(frozen=True)
class Call:
    keys: list[str]
    args: list[Any]


class JobId(str):
    """A job id as `enqueue` returns it: a plain `str`, which also says whether it is an
    earlier job's (`duplicate`: the idempotency key was taken, nothing was queued).

    A str, so the producers' contract (`enqueue` returns the id) stays as it was; the
    HTTP API answers `"duplicate": true` from it.
    """

    __slots__ = ("duplicate",)
    duplicate: bool

    def __new__(cls, value: str, duplicate: bool = False) -> JobId:
        job_id = super().__new__(cls, value)
        job_id.duplicate = duplicate
        return job_id

    def __reduce__(self) -> tuple[Any, ...]:
        return JobId, (str(self), self.duplicate)


@dataclass(frozen=True)
class Plan:
    """The script calls for one enqueue, and how to read their replies."""

    calls: list[Call]
    #: The id each request was given, in input order (a duplicate stands under another).
    new_ids: list[str]

    def job_ids(self, replies: Sequence[Sequence[bytes | str]]) -> list[JobId]:
        """Each job's id, in input order: its own, or the first one with its key."""
        ids = [value.decode() if isinstance(value, bytes) else value
               for reply in replies for value in reply]
        return [JobId(job_id, job_id != new_id)
                for job_id, new_id in zip(ids, self.new_ids, strict=True)]


class Enqueuer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)

    def plan(self, requests: Iterable[Any], *, priority: str | Priority = Priority.NORMAL,
             idempotency_keys: Iterable[str | None] | None = None,
             expires_in: float | None = None, strict: bool = False,
             single: bool = False) -> Plan:
        """Validate everything first (one ValidationError keyed by item index, or, with
        `single`, the one request's own errors), then plan.

        Raises ValueError for an unknown priority, a bad `expires_in` or a key list of
        the wrong length; nothing is enqueued then either.
        """
        # Here, not at the top: a worker imports this module to adopt foreign jobs and
        # should not load the request contract for that (see producers/wire.py).
        from producers.validation import validate, validate_many

        level = Priority.parse(priority)
        ttl_ms = expires_in_ms(self.settings, expires_in)
        cap = self.settings.max_targets
        if self.settings.return_unknown_identifiers and not isinstance(
                requests, Mapping | str | bytes):  # validate_many refuses those itself
            requests = [ask_unknown_identifiers(request) for request in requests]
        checked = ([validate(request, strict=strict, max_targets=cap) for request in requests]
                   if single else validate_many(requests, strict=strict, max_targets=cap))
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(checked)
        if len(keys) != len(checked):
            raise ValueError("idempotency_keys must have one entry per request")
        jobs = [_job_args(request, key, ttl_ms) for request, key in zip(checked, keys,
                                                                        strict=True)]
        return Plan([self._call(level, jobs[i:i + JOBS_PER_CALL])
                     for i in range(0, len(jobs), JOBS_PER_CALL)], [job[0] for job in jobs])

    @property
    def min_replicas(self) -> int:
        """NOTIFY_ENQUEUE_MIN_REPLICAS: 0 means no WAIT at all."""
        return self.settings.enqueue_min_replicas

    @property
    def replica_timeout_ms(self) -> int:
        return max(1, int(self.settings.enqueue_replica_timeout_s * 1000))

    def check_replicated(self, job_ids: Sequence[str], acked: int) -> None:
        """NotReplicated when fewer than NOTIFY_ENQUEUE_MIN_REPLICAS replicas confirmed."""
        if acked < self.min_replicas:
            from producers.redis_errors import redacted_endpoint

            raise NotReplicated.after_wait(
                redacted_endpoint(self.settings.redis_url), wanted=self.min_replicas,
                acked=acked, timeout_s=self.settings.enqueue_replica_timeout_s,
                job_ids=job_ids)

    def adopt(self, job: dict[str, Any]) -> Call:
        """The call that takes a whole job (a message another tool published) into its
        waiting list, under its own id, unless that id is known already."""
        request = job["request"]
        if self.settings.return_unknown_identifiers:
            request = ask_unknown_identifiers(request)
        args = [str(job["job_id"]), job.get("idempotency_key") or "", application_of(request),
                _kind(request), self._adopted_ttl_ms(job), request_json(request)]
        return self._call(Priority.parse(job.get("priority") or Priority.NORMAL), [args],
                          adopt=True)

    def _call(self, priority: Priority, jobs: list[list[Any]], adopt: bool = False) -> Call:
        settings = self.settings
        head = ["", settings.key_prefix, int(settings.outcome_ttl_s * 1000),
                int(settings.idempotency_window_s * 1000), priority.value, "1" if adopt else ""]
        return Call([self.keys.wake], head + [value for job in jobs for value in job])

    def _adopted_ttl_ms(self, job: dict[str, Any]) -> int:
        """A foreign job's lifetime (expires_at - enqueued_at) in ms, held to `plan`'s rules
        for `expires_in` (L6); ValueError when it breaks them, so the job is dropped.

        JSON as kombu reads it carries Infinity, NaN and integers too large for a float,
        which `int()` and `float()` refuse with OverflowError, not ValueError.
        """
        try:
            enqueued_at, expires_at = float(job["enqueued_at"]), float(job["expires_at"])
        except OverflowError:
            raise ValueError("enqueued_at and expires_at must be finite numbers") from None
        if not (math.isfinite(enqueued_at) and math.isfinite(expires_at)):
            raise ValueError("enqueued_at and expires_at must be finite numbers")
        # Published already past its deadline: 1 ms, so it is recorded and dead-lettered
        # `expired` rather than lost without a trace.
        return expires_in_ms(self.settings, max(expires_at - enqueued_at, 0.001))


def expires_in_ms(settings: Settings, expires_in: float | None) -> int:
    """`expires_in` (default NOTIFY_MAX_AGE) in ms: finite, > 0, within the outcome TTL.

    Raises ValueError saying which (the HTTP API checks its envelope with it too).
    """
    seconds = settings.max_age_s if expires_in is None else expires_in
    if not (isinstance(seconds, int | float) and not isinstance(seconds, bool)
            and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"expires_in must be a finite number of seconds > 0, "
                         f"got {expires_in!r}")
    if seconds >= settings.outcome_ttl_s:
        raise ValueError(f"expires_in must be shorter than NOTIFY_OUTCOME_TTL "
                         f"({settings.outcome_ttl_s:g} s), got {seconds:g}")
    return max(1, int(seconds * 1000))


#: The flag a transactional request sets to be told which identifiers were unknown (§12).
UNKNOWN_FLAG = "return_unknown_identifiers"


def ask_unknown_identifiers(request: Any) -> Any:
    """NOTIFY_RETURN_UNKNOWN_IDENTIFIERS: `request` with the flag set in its transactional
    object, unless it sets it itself (true or false); anything else as it is.

    Set here, at enqueue, before validation: the stored request (what `outcome`, a dead
    letter and a replay show) is then byte for byte what is POSTed. The caller's dict is
    not changed (a copy of the two levels touched)."""
    if not isinstance(request, Mapping):
        return request
    body = request.get("transactional")
    if not isinstance(body, dict) or UNKNOWN_FLAG in body:
        return request
    return {**request, "transactional": {**body, UNKNOWN_FLAG: True}}


def _job_args(request: dict[str, Any], key: str | None, ttl_ms: int) -> list[Any]:
    return [str(uuid.uuid4()), key or "", application_of(request), _kind(request), ttl_ms,
            request_json(request)]


def _kind(request: dict[str, Any]) -> str:
    return "segment" if "segment" in request else "transactional"


def application_of(request: Any) -> str:
    """The application code a request names ("" when it names none, or is no object)."""
    if not isinstance(request, dict):
        return ""
    value = request.get(_kind(request))
    return str(value.get("application", "")) if isinstance(value, dict) else ""
