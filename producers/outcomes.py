"""A job's outcome record: its shape, the lifecycle words, and the read side.

The `{job}:outcome` hash and the `{job}:attempts` list (see keys.py) are created by the
enqueue script (producers/producer.py) and changed by the worker's claim and record
scripts (worker/store/claims.py); both sides build and read them through this module, so
the record's shape, its statuses and its dead reasons live in one place.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass
from typing import Any

import redis

from producers.job import Job
from producers.keys import Keys


class Status(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


FINAL = frozenset({Status.SUCCEEDED, Status.DEAD})


class DeadReason(enum.StrEnum):
    """Why a job is dead (`dead_reason` in its outcome, `reason` in its dead letter)."""

    PERMANENT = "permanent"  # the endpoint refused the request itself, or it is invalid
    MAX_ATTEMPTS = "max_attempts"  # NOTIFY_MAX_ATTEMPTS failed sends
    EXPIRED = "expired"  # past expires_at before it could be sent
    AMBIGUOUS = "ambiguous"  # may have been sent, and NOTIFY_RETRY_AMBIGUOUS=false


DEAD_REASONS = tuple(reason.value for reason in DeadReason)


@dataclass(frozen=True)
class Attempt:
    """One send, as recorded in the attempt log."""

    number: int
    started_at: float
    duration_ms: float | None
    outcome: str  # the failure class: success, permanent, transient, ...
    http_status: int | None = None
    grpc_code: int | None = None
    error: str | None = None
    message_code: str | None = None
    ambiguous: bool = False
    retry_in_s: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def initial_fields(job: Job, now: float) -> dict[str, str]:
    """The record written at enqueue (and by the worker for a job it never saw queued)."""
    return {
        "job_id": job.job_id,
        "status": Status.QUEUED.value,
        "kind": job.kind,
        "application": job.application,
        "enqueued_at": repr(job.enqueued_at),
        "expires_at": repr(job.expires_at),
        "idempotency_key": job.idempotency_key or "",
        "attempts": "0",
        "updated_at": repr(now),
    }


_FLOATS = ("enqueued_at", "expires_at", "updated_at", "next_attempt_at", "lease_until")


def _decode_record(raw: dict[bytes, bytes], attempts: list[bytes]) -> dict[str, Any]:
    record: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for name in _FLOATS:
        if record.get(name):
            record[name] = float(record[name])
    record["attempt_count"] = int(record.pop("attempts", 0))
    record["idempotency_key"] = record.get("idempotency_key") or None
    for private in ("lease_until", "lease_owner", "sending_since"):
        record.pop(private, None)
    record["attempts"] = [json.loads(item) for item in attempts]
    return record


class OutcomeStore:
    """The read side of the records (the worker writes them: worker/store/claims.py)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def read(self, job_id: str) -> dict[str, Any] | None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._keys.outcome(job_id))
        pipe.lrange(self._keys.attempts(job_id), 0, -1)
        raw, attempts = pipe.execute()
        return _decode_record(raw, attempts) if raw else None
