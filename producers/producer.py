"""`Producer`: what application code uses to hand notifications to notify-relay.

Owner of the idempotency keys (`idem:{key}`). Publishing is one Lua script per
message (lua/enqueue.lua) that writes the idempotency keys, the outcome records, the
Celery message and the watchdog's entry (worker/store/watchdog.py) atomically, so a
job is never queued without a record nor recorded without being queued.

`enqueue` publishes one `notify_relay.send` message per job. `enqueue_many` packs up
to NOTIFY_BATCH_SIZE jobs into each `notify_relay.send_batch` message and pipelines
the scripts: Celery's cost per message is then paid once per batch.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import redis

from producers.connection import redis_client
from producers.job import Job
from producers.keys import Keys
from producers.message import batch_message, batch_watch_id, task_message
from producers.outcomes import FINAL, OutcomeStore, initial_fields
from producers.redis_errors import raises_queue_errors
from producers.scripts import Script, execute
from producers.settings import Settings
from producers.validation import validate, validate_many

ENQUEUE = Script(Path(__file__).with_name("lua") / "enqueue.lua")


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
        self._keys = Keys(self.settings.key_prefix)
        self._outcomes = OutcomeStore(self._redis, self._keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Producer:
        """Build from `REDIS_URL` and the `NOTIFY_*` variables (see the README table)."""
        return cls(settings=Settings.from_env(os.environ if environ is None else environ))

    @raises_queue_errors
    def enqueue(
        self,
        request: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        expires_in: float | None = None,
        strict: bool = False,
    ) -> str:
        """Validate and enqueue one request; return its job id.

        With an `idempotency_key` seen inside the window, return the first job's id
        and enqueue nothing. Raises `producers.ValidationError` (nothing enqueued), or a
        `producers.QueueError` when Redis fails (`QueueUnavailable`, `QueueFull`).
        """
        checked = validate(request, strict=strict, max_targets=self.settings.max_targets)
        job = self._new_job(checked, idempotency_key, expires_in)
        taken = self._publish([job], self._redis)
        return _text(taken[1]) if taken else job.job_id

    @raises_queue_errors
    def enqueue_many(
        self,
        requests: Iterable[dict[str, Any]],
        *,
        idempotency_keys: Iterable[str | None] | None = None,
        expires_in: float | None = None,
        strict: bool = False,
    ) -> list[str]:
        """Validate all, then enqueue all in pipelined round trips; ids in input order.

        Jobs travel NOTIFY_BATCH_SIZE to a message. If any request is invalid, raise
        one `ValidationError` keyed by item index and enqueue nothing. A repeated
        idempotency key (in this call or inside the window) gives the first job's id.
        """
        checked = validate_many(requests, strict=strict, max_targets=self.settings.max_targets)
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(checked)
        if len(keys) != len(checked):
            raise ValueError("idempotency_keys must have one entry per request")
        jobs = [self._new_job(r, k, expires_in) for r, k in zip(checked, keys, strict=True)]
        ids = [job.job_id for job in jobs]
        fresh, repeats = _first_of_each_key(jobs)
        size = self.settings.batch_size
        pending = [fresh[i:i + size] for i in range(0, len(fresh), size)]
        while pending:  # each pass drops at least one job whose key was taken meanwhile
            pipe = self._redis.pipeline(transaction=False)
            for chunk in pending:
                self._publish([jobs[i] for i in chunk], pipe)
            retry = []
            for chunk, taken in zip(pending, execute(pipe), strict=True):
                firsts = {int(taken[k]): _text(taken[k + 1]) for k in range(0, len(taken), 2)}
                for position, first in firsts.items():
                    ids[chunk[position]] = first
                rest = [index for position, index in enumerate(chunk) if position not in firsts]
                if firsts and rest:
                    retry.append(rest)
            pending = retry
        for index, first_index in repeats.items():
            ids[index] = ids[first_index]
        return ids

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
            if record and record["status"] in FINAL:
                return record
            if time.monotonic() > deadline:
                status = record["status"] if record else "unknown"
                raise TimeoutError(f"job {job_id} still {status} after {timeout:g}s")
            time.sleep(poll_s)

    @raises_queue_errors
    def close(self) -> None:
        self._redis.close()

    def _new_job(self, request: dict[str, Any], key: str | None, expires_in: float | None) -> Job:
        if expires_in is not None and expires_in <= 0:
            raise ValueError(f"expires_in must be > 0 seconds, got {expires_in!r}")
        return Job.new(request, max_age_s=self.settings.max_age_s, idempotency_key=key,
                       expires_in=expires_in)

    def _publish(self, jobs: list[Job], client: Any) -> Any:
        """Run the enqueue script for one message carrying `jobs` (on a pipeline: later)."""
        queue = self.settings.queue
        if len(jobs) == 1:
            watch_id, message = jobs[0].job_id, task_message(jobs[0], queue)
        else:
            task_id = str(uuid.uuid4())
            watch_id, message = batch_watch_id(task_id), batch_message(jobs, queue, task_id)
        first_look_ms = int((jobs[0].enqueued_at + self.settings.watchdog_grace_s) * 1000)
        keys = [self._keys.queue(queue), self._keys.watch, self._keys.watch_messages]
        args: list[str | int] = [watch_id, message, first_look_ms,
                                 int(self.settings.outcome_ttl_s * 1000), len(jobs)]
        for job in jobs:
            keys += [self._keys.outcome(job.job_id),
                     self._keys.idempotency(job.idempotency_key or "")]
            window_ms = (int(self.settings.idempotency_window_s * 1000)
                         if job.idempotency_key else "")
            fields = [x for pair in initial_fields(job, job.enqueued_at).items() for x in pair]
            args += [job.job_id, window_ms, len(fields), *fields]
        if isinstance(client, redis.client.Pipeline):
            ENQUEUE.queue(client, keys, args)
            return None
        return ENQUEUE(client, keys, args)


def _first_of_each_key(jobs: list[Job]) -> tuple[list[int], dict[int, int]]:
    """Indexes of the jobs to publish, and {repeat: first} for keys repeated in the call."""
    first_index: dict[str, int] = {}
    fresh, repeats = [], {}
    for index, job in enumerate(jobs):
        key = job.idempotency_key
        if key is not None and key in first_index:
            repeats[index] = first_index[key]
            continue
        if key is not None:
            first_index[key] = index
        fresh.append(index)
    return fresh, repeats


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
