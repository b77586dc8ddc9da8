"""`Producer`: what application code uses to hand notifications to notify-relay.

Owner of the idempotency keys (`idem:{key}`). `enqueue` and `enqueue_many` validate,
then run the enqueue script (lua/enqueue.lua): each job's record, with the request as it
will be POSTed, and its id in the waiting list of its priority and application, written
together, so a job never waits without a record nor is recorded without waiting. The
workers' dispatcher hands waiting jobs out under the send budget, in batch messages
(worker/store/waiting.py); the rules both producers share are in `producers/enqueue.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from producers.connection import redis_client
from producers.enqueue import ENQUEUE, Enqueuer, JobId, Plan
from producers.job import Priority
from producers.outcomes import OutcomeStore, is_final, still_waiting
from producers.redis_errors import raises_queue_errors
from producers.scripts import execute, execute_and_wait
from producers.settings import Settings


class Producer:
    """Validate, deduplicate and enqueue notify requests; look up their outcomes."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        settings: Settings | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        base = settings or Settings()
        self.settings = base.replace(redis_url=redis_url) if redis_url else base
        self._redis = client or redis_client(self.settings)
        self._enqueuer = Enqueuer(self.settings)
        self._outcomes = OutcomeStore(self._redis, self._enqueuer.keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Producer:
        """Build from `REDIS_URL` and the `NOTIFY_*` variables (see the README table)."""
        return cls(settings=Settings.from_env(os.environ if environ is None else environ))

    @raises_queue_errors
    def enqueue(
        self,
        request: dict[str, Any],
        *,
        priority: str | Priority = Priority.NORMAL,
        idempotency_key: str | None = None,
        expires_in: float | None = None,
        strict: bool = False,
    ) -> JobId:
        """Validate and enqueue one request; return its job id (a `str`).

        `priority`: "urgent", "normal" (default) or "bulk". With an `idempotency_key`
        seen inside the window, return the first job's id and enqueue nothing (the id's
        `.duplicate` is then True). Raises
        `producers.ValidationError`, or ValueError for a bad priority or `expires_in`
        (nothing enqueued), or a `producers.QueueError` when Redis fails
        (`QueueUnavailable`, `QueueFull`; `NotReplicated` when fewer than
        NOTIFY_ENQUEUE_MIN_REPLICAS replicas confirmed the job in time: enqueue again
        with the same idempotency key).
        """
        plan = self._enqueuer.plan([request], priority=priority,
                                   idempotency_keys=[idempotency_key],
                                   expires_in=expires_in, strict=strict, single=True)
        return self._run(plan)[0]

    @raises_queue_errors
    def enqueue_many(
        self,
        requests: Iterable[dict[str, Any]],
        *,
        priority: str | Priority = Priority.NORMAL,
        idempotency_keys: Iterable[str | None] | None = None,
        expires_in: float | None = None,
        strict: bool = False,
    ) -> list[JobId]:
        """Validate all, then enqueue all in pipelined round trips; ids in input order.

        If any request is invalid, raise one `ValidationError` keyed by item index and
        enqueue nothing. A repeated idempotency key (in this call or inside the window)
        gives the first job's id.
        """
        plan = self._enqueuer.plan(requests, priority=priority,
                                   idempotency_keys=idempotency_keys, expires_in=expires_in,
                                   strict=strict)
        return self._run(plan)

    @raises_queue_errors
    def outcome(self, job_id: str) -> dict[str, Any] | None:
        """The job's status and attempt log, or None if unknown (or expired)."""
        return self._outcomes.read(job_id)

    @raises_queue_errors
    def wait(self, job_id: str, timeout: float = 30.0, poll_s: float = 0.05) -> dict[str, Any]:
        """Poll until the job is final (succeeded or dead); TimeoutError past `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.outcome(job_id)
            if record and is_final(record):
                return record
            if time.monotonic() > deadline:
                raise still_waiting(job_id, record, timeout)
            time.sleep(poll_s)

    @raises_queue_errors
    def close(self) -> None:
        self._redis.close()

    def _run(self, plan: Plan) -> list[JobId]:
        if self._enqueuer.min_replicas:
            return self._run_replicated(plan)
        if len(plan.calls) == 1:
            [call] = plan.calls
            return plan.job_ids([ENQUEUE(self._redis, call.keys, call.args)])
        pipe = self._redis.pipeline(transaction=False)
        for call in plan.calls:
            ENQUEUE.queue(pipe, call.keys, call.args)
        return plan.job_ids(execute(pipe))

    def _run_replicated(self, plan: Plan) -> list[JobId]:
        """The calls with WAIT on their connection; NotReplicated when too few confirmed."""
        pipe = self._redis.pipeline(transaction=False)
        for call in plan.calls:
            ENQUEUE.queue(pipe, call.keys, call.args)
        replies, acked = execute_and_wait(pipe, self._enqueuer.min_replicas,
                                          self._enqueuer.replica_timeout_ms)
        job_ids = plan.job_ids(replies)
        self._enqueuer.check_replicated(job_ids, acked)
        return job_ids
