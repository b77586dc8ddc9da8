"""`Producer`: what application code uses to hand notifications to notify-relay.

Owner of the idempotency keys (`idem:{key}`). Publishing is one Lua script per job
that writes the idempotency key, the outcome record, the Celery message and the
watchdog's first entry (worker/watchdog.py) atomically, so a job is never queued
without a record nor recorded without being queued; `enqueue_many` pipelines those
scripts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from producers.job import Job
from producers.keys import Keys
from producers.message import task_message
from producers.outcomes import FINAL, OutcomeStore, initial_fields
from producers.settings import Settings
from producers.validation import validate, validate_many

# KEYS: outcome hash, idempotency key, queue list, watch zset, watch messages hash
# ARGV: job id, message, idempotency ttl ms ('' = no key), outcome ttl ms, first watchdog
# look (ms), field, value, ...
_ENQUEUE = """
if ARGV[3] ~= '' then
  local first = redis.call('GET', KEYS[2])
  if first then return first end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('LPUSH', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
return ARGV[1]
"""


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
        self._redis = client or redis.Redis.from_url(self.settings.redis_url)
        self._keys = Keys(self.settings.key_prefix)
        self._outcomes = OutcomeStore(self._redis, self._keys, self.settings.outcome_ttl_s)
        self._enqueue_script = self._redis.register_script(_ENQUEUE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Producer:
        """Build from `REDIS_URL` and the `NOTIFY_*` variables (see the README table)."""
        return cls(settings=Settings.from_env(os.environ if environ is None else environ))

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
        and enqueue nothing. Raises `producers.ValidationError` (nothing enqueued).
        """
        checked = validate(request, strict=strict, max_targets=self.settings.max_targets)
        job = self._new_job(checked, idempotency_key, expires_in)
        result = self._enqueue_script(keys=self._script_keys(job), args=self._script_args(job))
        return _text(result)

    def enqueue_many(
        self,
        requests: Iterable[dict[str, Any]],
        *,
        idempotency_keys: Iterable[str | None] | None = None,
        expires_in: float | None = None,
        strict: bool = False,
    ) -> list[str]:
        """Validate all, then enqueue all in pipelined round trips; ids in input order.

        If any request is invalid, raise one `ValidationError` keyed by item index
        and enqueue nothing.
        """
        checked = validate_many(requests, strict=strict, max_targets=self.settings.max_targets)
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(checked)
        if len(keys) != len(checked):
            raise ValueError("idempotency_keys must have one entry per request")
        jobs = [self._new_job(r, k, expires_in) for r, k in zip(checked, keys, strict=True)]
        pipe = self._redis.pipeline(transaction=False)
        for job in jobs:
            self._enqueue_script(keys=self._script_keys(job), args=self._script_args(job),
                                 client=pipe)
        return [_text(result) for result in pipe.execute()]

    def outcome(self, job_id: str) -> dict[str, Any] | None:
        """The job's status and attempt log, or None if unknown (or expired)."""
        return self._outcomes.read(job_id)

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

    def close(self) -> None:
        self._redis.close()

    def _new_job(self, request: dict[str, Any], key: str | None, expires_in: float | None) -> Job:
        if expires_in is not None and expires_in <= 0:
            raise ValueError(f"expires_in must be > 0 seconds, got {expires_in!r}")
        return Job.new(request, max_age_s=self.settings.max_age_s, idempotency_key=key,
                       expires_in=expires_in)

    def _script_keys(self, job: Job) -> list[str]:
        idem = self._keys.idempotency(job.idempotency_key or "")
        return [self._keys.outcome(job.job_id), idem, self._keys.queue(self.settings.queue),
                self._keys.watch, self._keys.watch_messages]

    def _script_args(self, job: Job) -> list[str | int]:
        window_ms = int(self.settings.idempotency_window_s * 1000) if job.idempotency_key else ""
        fields = [x for pair in initial_fields(job, job.enqueued_at).items() for x in pair]
        ttl_ms = int(self.settings.outcome_ttl_s * 1000)
        first_look_ms = int((job.enqueued_at + self.settings.watchdog_grace_s) * 1000)
        return [job.job_id, task_message(job, self.settings.queue), window_ms, ttl_ms,
                first_look_ms, *fields]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
