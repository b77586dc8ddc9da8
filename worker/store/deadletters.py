"""The dead-letter store: jobs that will not be sent, with why, for operators to act on.

Owner of `dead:index` (zset job id → dead time), `dead:entries` (hash job id →
JSON entry) and `dead:reasons` (hash reason → how many are stored, so `stats` need
not read every entry). Bounded by count (NOTIFY_DEAD_MAX) and age (NOTIFY_DEAD_TTL),
trimmed on every insert by the same script that inserts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from producers.job import Job
from producers.keys import Keys
from producers.outcomes import DEAD_REASONS, Status
from producers.scripts import Script, execute

if TYPE_CHECKING:
    from worker.store import Stores

ADD = Script(Path(__file__).with_name("lua") / "dead_add.lua")


class DeadLetterStore:
    def __init__(self, client: redis.Redis, keys: Keys, *, max_count: int, ttl_s: float) -> None:
        self._redis = client
        self._keys = keys
        self._max_count = max_count
        self._ttl_s = ttl_s

    def add(
        self, pipe: redis.client.Pipeline, job: Job, reason: str, last_error: str | None,
        now: float | None = None,
    ) -> None:
        """Queue on `pipe`: park `job` as dead for `reason`, trimming old entries."""
        now = time.time() if now is None else now
        entry = {"job": job.to_dict(), "reason": reason, "last_error": last_error,
                 "dead_at": now, "application": job.application, "kind": job.kind}
        keys = [self._keys.dead_index, self._keys.dead_entries, self._keys.attempts(job.job_id),
                self._keys.dead_reasons]
        args = [job.job_id, json.dumps(entry), int(now * 1000),
                int((now - self._ttl_s) * 1000), self._max_count]
        ADD.queue(pipe, keys, args)

    def get(self, job_id: str) -> dict[str, Any] | None:
        raw = self._redis.hget(self._keys.dead_entries, job_id)
        return json.loads(raw) if raw else None

    def iter_newest(
        self, *, reason: str | None = None, application: str | None = None, batch: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Entries newest first, filtered; reads in batches so large stores stay cheap."""
        start = 0
        while True:
            ids = self._redis.zrevrange(self._keys.dead_index, start, start + batch - 1)
            if not ids:
                return
            for raw in self._redis.hmget(self._keys.dead_entries, ids):
                entry = json.loads(raw) if raw else None
                if entry and _matches(entry, reason, application):
                    yield entry
            start += batch

    def count(self) -> int:
        return int(self._redis.zcard(self._keys.dead_index))

    def count_by_reason(self) -> dict[str, int]:
        """Stored dead letters per reason, from the counters (no entry is read)."""
        counts = dict.fromkeys(DEAD_REASONS, 0)
        for reason, count in self._redis.hgetall(self._keys.dead_reasons).items():
            counts[reason.decode()] = max(0, int(count))
        return counts

    def remove(self, pipe: redis.client.Pipeline, entry: dict[str, Any]) -> None:
        """Queue on `pipe`: delete one entry (as read from the store) and its count."""
        job_id = entry["job"]["job_id"]
        pipe.zrem(self._keys.dead_index, job_id)
        pipe.hdel(self._keys.dead_entries, job_id)
        pipe.hincrby(self._keys.dead_reasons, entry["reason"], -1)

    def purge(self, *, reason: str | None = None, application: str | None = None) -> int:
        doomed = list(self.iter_newest(reason=reason, application=application))
        pipe = self._redis.pipeline()
        for entry in doomed:
            self.remove(pipe, entry)
        pipe.execute()
        return len(doomed)


def _matches(entry: dict[str, Any], reason: str | None, application: str | None) -> bool:
    return (reason is None or entry["reason"] == reason) and (
        application is None or entry.get("application") == application
    )


def replay_entry(stores: Stores, entry: dict[str, Any], *, max_age_s: float,
                 now: float | None = None) -> Job:
    """Send a dead job again: same id and idempotency key, fresh budget and deadline.

    One transaction: the outcome goes back to `queued`, the job is parked as due now (the
    scheduler queues it within a poll interval), watched, and the dead letter is removed.
    """
    now = time.time() if now is None else now
    job = Job.from_dict(entry["job"]).fresh_budget(max_age_s=max_age_s, now=now)
    pipe = stores.redis.pipeline()
    stores.claims.record(pipe, job, None, Status.QUEUED, revive=True, dead_reason="",
                         last_error="", expires_at=job.expires_at, replayed_at=now)
    message = stores.park.park(pipe, job, now)
    stores.watchdog.track(pipe, job.job_id, message, now)
    stores.dead.remove(pipe, entry)
    execute(pipe)
    return job
