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
from typing import Any

import redis

from producers.job import Job
from producers.keys import Keys
from producers.outcomes import DEAD_REASONS

# KEYS: index, entries, attempts list (read only), reasons. ARGV: job id, entry json,
# now ms, oldest allowed ms, max count. The attempt log is copied in: outcomes expire
# sooner. A job dead again (after a replay) replaces its entry, and its count.
_ADD = """
local entry = cjson.decode(ARGV[2])
local previous = redis.call('HGET', KEYS[2], ARGV[1])
if previous then redis.call('HINCRBY', KEYS[4], cjson.decode(previous)['reason'], -1) end
redis.call('HINCRBY', KEYS[4], entry['reason'], 1)
local log = redis.call('LRANGE', KEYS[3], 0, -1)
local attempts = {}
for i, item in ipairs(log) do attempts[i] = cjson.decode(item) end
entry['attempts'] = attempts
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(entry))
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
local excess = redis.call('ZCARD', KEYS[1]) - #old - tonumber(ARGV[5])
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], #old, #old + excess - 1)
  for _, id in ipairs(oldest) do table.insert(old, id) end
end
for _, id in ipairs(old) do
  local dropped = redis.call('HGET', KEYS[2], id)
  if dropped then redis.call('HINCRBY', KEYS[4], cjson.decode(dropped)['reason'], -1) end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #old
"""

REASONS = DEAD_REASONS


class DeadLetterStore:
    def __init__(self, client: redis.Redis, keys: Keys, *, max_count: int, ttl_s: float) -> None:
        self._redis = client
        self._keys = keys
        self._max_count = max_count
        self._ttl_s = ttl_s
        self._add = client.register_script(_ADD)

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
        self._add(keys=keys, args=args, client=pipe)

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
        counts = dict.fromkeys(REASONS, 0)
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


def replay_entry(stores: Any, entry: dict[str, Any], *, max_age_s: float,
                 now: float | None = None) -> Job:
    """Send a dead job again: same id and idempotency key, fresh budget and deadline.

    `stores` is a worker `Runtime` or `notify_relay.cli.dead.Stores` (redis, outcomes,
    retries, dead, watchdog). One transaction: the outcome goes back to `queued`, the
    job is parked as due now (the mover queues it within a poll interval), watched, and
    the dead letter is removed.
    """
    from producers.outcomes import Status

    now = time.time() if now is None else now
    job = Job.from_dict(entry["job"]).fresh_budget(max_age_s=max_age_s, now=now)
    pipe = stores.redis.pipeline()
    stores.outcomes.record(pipe, job, None, Status.QUEUED, revive=True, dead_reason="",
                           last_error="", expires_at=job.expires_at, replayed_at=now)
    message = stores.retries.park(pipe, job, now)
    stores.watchdog.track(pipe, job.job_id, message, now)
    stores.dead.remove(pipe, entry)
    pipe.execute()
    return job
