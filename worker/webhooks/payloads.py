"""The events a job's outcome becomes: their ids and bodies. Pure.

| outcome                          | event type               | `data` beyond the common fields |
|----------------------------------|--------------------------|---------------------------------|
| succeeded                        | `notification.succeeded` | `message_code`                  |
| succeeded, with identifiers the  | `identifiers.unknown`    | `message_code`,                 |
|   endpoint did not know          |   (as well)              | `unknown_identifiers`           |
| dead                             | `notification.dead`      | `dead_reason`                   |

Common fields: `job_id`, `status`, `application`, `kind`, `attempts` (sends so far).
Never the token, the content or the targets: the unknown identifiers are the one list an
event carries. The body is `{"type", "timestamp", "data"}` (Standard Webhooks' shape),
compact ASCII JSON, built once: what is stored is what is signed and POSTed on every try.

An event's id (`webhook-id`) is fixed when the outcome is recorded: a digest of the job,
the type and the record's time, so every try and every replay of it carries the same
one, and a receiver can de-duplicate on it.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from producers.job import Job
from worker.store.webhooks import new_entry


class EventType(enum.StrEnum):
    SUCCEEDED = "notification.succeeded"
    DEAD = "notification.dead"
    UNKNOWN_IDS = "identifiers.unknown"


def succeeded(job: Job, *, attempts: int, message_code: str | None,
              unknown: dict[str, list[str]] | None, now: float,
              wanted: Collection[str]) -> list[tuple[str, str]]:
    """The events of a success: (id, outbox entry) pairs, only those in `wanted`."""
    data = _common(job, "succeeded", attempts) | {"message_code": message_code}
    events = [(EventType.SUCCEEDED, data)]
    if unknown:
        events.append((EventType.UNKNOWN_IDS, data | {"unknown_identifiers": unknown}))
    return [_event(job, kind, body, now) for kind, body in events if kind in wanted]


def dead(job: Job, *, attempts: int, reason: str, now: float,
         wanted: Collection[str]) -> list[tuple[str, str]]:
    if EventType.DEAD not in wanted:
        return []
    data = _common(job, "dead", attempts) | {"dead_reason": reason}
    return [_event(job, EventType.DEAD, data, now)]


def event_id(job_id: str, kind: str, now: float) -> str:
    digest = hashlib.sha256(f"{job_id}\n{kind}\n{int(now * 1000)}".encode()).hexdigest()
    return f"msg_{digest[:32]}"  # no '.': the signed text is "id.timestamp.body"


def timestamp(now: float) -> str:
    """RFC 3339 in UTC, milliseconds: `2026-05-01T09:00:00.123Z`."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _common(job: Job, status: str, attempts: int) -> dict[str, Any]:
    return {"job_id": job.job_id, "status": status, "application": job.application,
            "kind": job.kind, "attempts": attempts}


def _event(job: Job, kind: EventType, data: dict[str, Any], now: float) -> tuple[str, str]:
    body = json.dumps({"type": kind.value, "timestamp": timestamp(now), "data": data},
                      separators=(",", ":"))
    return event_id(job.job_id, kind, now), new_entry(kind.value, job.job_id, now, body)


class Outbox:
    """The events a worker adds to the outbox with an outcome: none when webhooks are off
    (NOTIFY_WEBHOOK_URL empty), only NOTIFY_WEBHOOK_EVENTS' otherwise."""

    def __init__(self, on: bool, wanted: Collection[str]) -> None:
        self._wanted = frozenset(wanted) if on else frozenset()

    def succeeded(self, job: Job, *, attempts: int, message_code: str | None,
                  unknown: dict[str, list[str]] | None, now: float) -> list[tuple[str, str]]:
        if not self._wanted:
            return []
        return succeeded(job, attempts=attempts, message_code=message_code, unknown=unknown,
                         now=now, wanted=self._wanted)

    def dead(self, job: Job, *, attempts: int, reason: str, now: float) -> list[tuple[str, str]]:
        return dead(job, attempts=attempts, reason=reason, now=now, wanted=self._wanted)
