"""`AsyncProducer`: `Producer`'s contract on `redis.asyncio`, for asyncio applications.

    async with AsyncProducer.from_env() as producer:
        job_id = await producer.enqueue(request, priority="urgent", idempotency_key="o-77")
        record = await producer.wait(job_id, timeout=30)

Nothing here is a second copy of the rules: validation, job ids, the enqueue script's
keys and arguments and the reading of its replies are `producers/enqueue.py`'s planner,
the same one `Producer` runs; records are decoded by `producers/outcomes.py`; scripts run
through `producers.scripts` (`acall`, `aexecute`: the same NOSCRIPT handling); the client
comes from `producers.connection`. Only the awaiting is this module's.

What runs on the event loop: a plan of up to `INLINE_REQUESTS` requests is made there
(one typical request validates in ~40 µs); a larger one, or any with `off_loop=True`
(the HTTP API passes it for large bodies), is made in a worker thread, so a batch of a
thousand requests does not stall every other task on the loop for tens of milliseconds.

Concurrent enqueues (an HTTP server's requests) share script calls: `producers/coalesce.py`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import redis.asyncio

# Loaded with this module, not by the first plan: that import (the request schemas, ~65 ms)
# would run inside a callback and hold the loop. (The worker never imports this module.)
import producers.validation  # noqa: F401
from producers.coalesce import GroupCommit
from producers.connection import async_redis_client
from producers.enqueue import ENQUEUE, Call, Enqueuer, JobId, Plan
from producers.job import Priority
from producers.outcomes import aread_raw, decode_record, is_final, still_waiting
from producers.redis_errors import raises_queue_errors
from producers.scripts import aexecute, aexecute_and_wait
from producers.settings import Settings

#: Plans of at most this many requests are made on the loop; larger ones in a thread.
INLINE_REQUESTS = 8


class AsyncProducer:
    """Validate, deduplicate and enqueue notify requests; look up their outcomes (asyncio).

    Raises what `Producer` raises: `producers.ValidationError`, ValueError for a bad
    priority or `expires_in`, `producers.QueueUnavailable` / `QueueFull` when Redis fails.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        settings: Settings | None = None,
        client: redis.asyncio.Redis | None = None,
    ) -> None:
        base = settings or Settings()
        self.settings = base.replace(redis_url=redis_url) if redis_url else base
        self._redis = client or async_redis_client(self.settings)
        self._enqueuer = Enqueuer(self.settings)
        self._group = GroupCommit(self._send)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AsyncProducer:
        """Build from `REDIS_URL` and the `NOTIFY_*` variables (see the README table)."""
        return cls(settings=Settings.from_env(os.environ if environ is None else environ))

    async def __aenter__(self) -> AsyncProducer:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    @raises_queue_errors
    async def enqueue(
        self,
        request: dict[str, Any],
        *,
        priority: str | Priority = Priority.NORMAL,
        idempotency_key: str | None = None,
        expires_in: float | None = None,
        strict: bool = False,
        off_loop: bool = False,
    ) -> JobId:
        """`Producer.enqueue`, awaited: the job id (`.duplicate` when the key was taken).

        `off_loop`: validate in a worker thread (for a request of megabytes).
        """
        plan = await self._plan([request], off_loop, priority=priority,
                                idempotency_keys=[idempotency_key], expires_in=expires_in,
                                strict=strict, single=True)
        return (await self._run(plan))[0]

    @raises_queue_errors
    async def enqueue_many(
        self,
        requests: Iterable[dict[str, Any]],
        *,
        priority: str | Priority = Priority.NORMAL,
        idempotency_keys: Iterable[str | None] | None = None,
        expires_in: float | None = None,
        strict: bool = False,
        off_loop: bool = False,
    ) -> list[JobId]:
        """`Producer.enqueue_many`, awaited: all valid or nothing queued; ids in order."""
        items = list(requests)
        plan = await self._plan(items, off_loop or len(items) > INLINE_REQUESTS,
                                priority=priority, idempotency_keys=idempotency_keys,
                                expires_in=expires_in, strict=strict)
        return await self._run(plan)

    @raises_queue_errors
    async def outcome(self, job_id: str) -> dict[str, Any] | None:
        """The job's status and attempt log, or None if unknown (or expired)."""
        raw = await aread_raw(self._redis, self._enqueuer.keys.outcome(job_id))
        return decode_record(job_id, raw) if raw else None

    @raises_queue_errors
    async def wait(self, job_id: str, timeout: float = 30.0,
                   poll_s: float = 0.05) -> dict[str, Any]:
        """Poll until the job is final (succeeded or dead); TimeoutError past `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            record = await self.outcome(job_id)
            if record and is_final(record):
                return record
            if time.monotonic() > deadline:
                raise still_waiting(job_id, record, timeout)
            await asyncio.sleep(poll_s)

    @raises_queue_errors
    async def ping(self) -> bool:
        """True when Redis answers (the HTTP API's health check)."""
        return bool(await self._redis.ping())  # type: ignore[misc]

    @raises_queue_errors
    async def aclose(self) -> None:
        await self._redis.aclose()  # type: ignore[attr-defined]  # types-redis 4.6 lacks it

    async def _plan(self, requests: list[Any], off_loop: bool, **options: Any) -> Plan:
        if off_loop:
            return await asyncio.to_thread(self._enqueuer.plan, requests, **options)
        return self._enqueuer.plan(requests, **options)

    async def _send(self, call: Call) -> list[Any]:
        """One (grouped) script call. With NOTIFY_ENQUEUE_MIN_REPLICAS, each reply comes
        as (reply, replicas that confirmed the call), so every caller of a group learns
        its own jobs' fate from its own slice of the replies."""
        if not self._enqueuer.min_replicas:
            replies: list[Any] = await ENQUEUE.acall(self._redis, call.keys, call.args)
            return replies
        pipe = self._redis.pipeline(transaction=False)
        ENQUEUE.queue(pipe, call.keys, call.args)
        [reply], acked = await aexecute_and_wait(pipe, self._enqueuer.min_replicas,
                                                 self._enqueuer.replica_timeout_ms)
        return [(value, acked) for value in reply]

    async def _run(self, plan: Plan) -> list[JobId]:
        if len(plan.calls) == 1:  # concurrent ones share a script call (coalesce.py)
            [call] = plan.calls
            replies = await self._group.run(call)
            if not self._enqueuer.min_replicas:
                return plan.job_ids([replies])
            job_ids = plan.job_ids([[value for value, _ in replies]])
            self._enqueuer.check_replicated(job_ids, min(acked for _, acked in replies))
            return job_ids
        pipe = self._redis.pipeline(transaction=False)
        for call in plan.calls:
            ENQUEUE.queue(pipe, call.keys, call.args)
        if not self._enqueuer.min_replicas:
            return plan.job_ids(await aexecute(pipe))
        results, acked = await aexecute_and_wait(pipe, self._enqueuer.min_replicas,
                                                 self._enqueuer.replica_timeout_ms)
        job_ids = plan.job_ids(results)
        self._enqueuer.check_replicated(job_ids, acked)
        return job_ids
