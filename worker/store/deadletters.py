"""The dead-letter store: jobs that will not be sent, with why, for operators to act on.

Owner of `dead:index` (zset job id → dead time), `dead:entries` (hash job id → JSON entry,
its first key "reason") and `dead:reasons` (hash reason → how many are stored, so `stats`
need not read every entry). Entries are added by the script that buries a job
(claims.py, lua/bury.lua, with lua/deadletters.lua): bounded by count (NOTIFY_DEAD_MAX)
and age (NOTIFY_DEAD_TTL), trimmed on every insert by the same script. The job is kept as
the worker serialised it, byte for byte, so a replay sends exactly what was refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from producers.keys import Keys
from producers.outcomes import DEAD_REASONS, Attempt, Status
from producers.scripts import Script
from producers.settings import Settings
from producers.wire import request_json

_LUA = Path(__file__).with_name("lua")
REPLAY = Script(_LUA / "replay.lua", Status,
                includes=[_LUA / "records.lua", _LUA / "deadletters.lua"])
PURGE = Script(_LUA / "dead_purge.lua", includes=[_LUA / "deadletters.lua"])
#: Dead letters deleted per script call (one call holds Redis about a millisecond).
PURGE_BATCH = 500


class DeadLetterStore:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._redis = client
        self._keys = keys
        self._settings = settings

    def get(self, job_id: str) -> dict[str, Any] | None:
        raw = self._redis.hget(self._keys.dead_entries, job_id)
        return _decode(raw) if raw else None

    def iter_newest(
        self, *, reason: str | None = None, application: str | None = None,
        older_than: float | None = None, batch: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Entries newest first, filtered; reads in batches so large stores stay cheap."""
        top = "+inf" if older_than is None else f"({older_than * 1000}"
        start = 0
        while True:
            ids = self._redis.zrevrangebyscore(self._keys.dead_index, top, "-inf",
                                               start=start, num=batch)
            if not ids:
                return
            for raw in self._redis.hmget(self._keys.dead_entries, ids):
                entry = _decode(raw) if raw else None
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

    def purge(self, entries: list[dict[str, Any]]) -> int:
        """Delete these entries (as read from the store); how many were still there."""
        keys = [self._keys.dead_index, self._keys.dead_entries, self._keys.dead_reasons]
        gone = 0
        for start in range(0, len(entries), PURGE_BATCH):
            ids = [entry["job"]["job_id"] for entry in entries[start:start + PURGE_BATCH]]
            gone += int(PURGE(self._redis, keys, ids))
        return gone

    def replay(self, entry: dict[str, Any], now: float | None = None) -> bool:
        """Send a dead job again: same id, key, priority and attempt log; a fresh budget
        (NOTIFY_MAX_ATTEMPTS) and deadline (NOTIFY_MAX_AGE). False if it was gone."""
        job = entry["job"]
        rows = entry.get("_rows", "[]")
        keys = [self._keys.outcome(job["job_id"]), self._keys.dead_index,
                self._keys.dead_entries, self._keys.dead_reasons]
        args = [job["job_id"], self._keys.prefix, "" if now is None else int(now * 1000),
                int(self._settings.outcome_ttl_s * 1000), job.get("priority") or "normal",
                entry.get("application") or "", entry.get("kind") or "",
                int(self._settings.max_age_s * 1000), request_json(job["request"]),
                job.get("idempotency_key") or "", rows, len(entry.get("attempts", []))]
        return bool(REPLAY(self._redis, keys, args))


def _decode(raw: bytes) -> dict[str, Any]:
    """An entry with its attempt log as dicts (and the rows kept for a replay)."""
    entry: dict[str, Any] = json.loads(raw)
    rows = entry.get("attempts") or []
    entry["_rows"] = json.dumps(rows, separators=(",", ":"))
    entry["attempts"] = [vars(Attempt.from_row(row)) for row in rows]
    return entry


def public(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as `dead show` / `dead export` print it."""
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def _matches(entry: dict[str, Any], reason: str | None, application: str | None) -> bool:
    return (reason is None or entry["reason"] == reason) and (
        application is None or entry.get("application") == application
    )
