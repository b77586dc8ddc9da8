"""The log of identifiers the endpoint did not know, for `notify-relay unknown-ids export`.

Owner of `unknown:index` (zset job id → when it succeeded, ms) and `unknown:entries`
(hash job id → JSON: job, application, time, the identifiers by kind). An entry is added
by the script that records the success that reported it (lua/succeed.lua with
lua/unknown.lua), trimmed there by age (NOTIFY_OUTCOME_TTL) and count
(NOTIFY_UNKNOWN_IDS_MAX jobs); both keys expire NOTIFY_OUTCOME_TTL after the last entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import redis

from producers.keys import Keys


def entry(job_id: str, application: str, at: float, identifiers: dict[str, list[str]]) -> str:
    """One job's entry, as the record script stores it."""
    return json.dumps({"job": job_id, "application": application, "time": round(at, 3),
                       "identifiers": identifiers}, separators=(",", ":"))


class UnknownIdStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self.index_key, self.entries_key = keys.unknown("index"), keys.unknown("entries")

    @property
    def keys(self) -> list[str]:
        return [self.index_key, self.entries_key]

    def count(self) -> int:
        return int(self._redis.zcard(self.index_key))

    def iter_since(self, since: float | None = None, application: str | None = None,
                   batch: int = 500) -> Iterator[dict[str, Any]]:
        """Entries oldest first, from `since` (epoch s) on, in batches."""
        low = "-inf" if since is None else int(since * 1000)
        start = 0
        while ids := self._redis.zrangebyscore(self.index_key, low, "+inf", start=start,
                                               num=batch):
            for raw in self._redis.hmget(self.entries_key, ids):
                found = json.loads(raw) if raw else None
                if found and application in (None, found.get("application")):
                    yield found
            start += batch


def lines(found: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An entry as export lines: one per identifier."""
    when = datetime.fromtimestamp(found["time"], UTC).isoformat(timespec="milliseconds")
    for kind, identifiers in found["identifiers"].items():
        for identifier in identifiers:
            yield {"identifier": identifier, "kind": kind,
                   "application": found["application"], "job": found["job"],
                   "time": when.replace("+00:00", "Z")}
