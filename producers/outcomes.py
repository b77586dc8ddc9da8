"""A job's outcome record: its shape, the lifecycle words, and the read side.

The `{job}:outcome` key (see keys.py) is created by the enqueue script
(producers/lua/enqueue.lua) and changed by the worker's scripts (worker/store/claims.py).
While the job lives it is a hash: its fields, the request as it will be POSTed, and the
attempt log (a JSON array of compact rows, `Attempt.row`). Once final (succeeded, dead)
it becomes one compact string: a JSON array of the outcome's fields (`FINAL_FIELDS`), a
line break, and the log. Both sides read and build it through this module, so its shape,
its statuses and its dead reasons live in one place.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import redis
import redis.asyncio

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
    outcome: str  # the send's failure class: success, permanent, transient, ...
    http_status: int | None = None
    grpc_code: int | None = None
    error: str | None = None
    message_code: str | None = None
    ambiguous: bool = False
    retry_in_s: float | None = None
    #: recorded by a worker whose claim had ended (another took the job over meanwhile)
    late: bool = False

    def row(self) -> str:
        """The compact form the log keeps: a JSON array in field order, flags as 0/1.

        `late` stays last: the record scripts flag a late row by rewriting that element.
        """
        values = [getattr(self, f.name) for f in fields(self)]
        return json.dumps([int(v) if isinstance(v, bool) else v for v in values],
                          separators=(",", ":"))

    @classmethod
    def from_row(cls, row: list[Any]) -> Attempt:
        values = dict(zip((f.name for f in fields(cls)), row, strict=False))
        values["ambiguous"] = bool(values.get("ambiguous"))
        values["late"] = bool(values.get("late"))
        return cls(**values)


def log_rows(log: str | bytes | None) -> list[dict[str, Any]]:
    """The attempt log (a JSON array of rows) as the dicts `Producer.outcome` shows."""
    if not log:
        return []
    return [asdict(Attempt.from_row(row)) for row in json.loads(log)]


#: Positions in the compact final record (worker/store/lua/records.lua `finalize`).
#: Fields are only ever added at the end: a record written before one was added is
#: shorter, and reads as that field absent (`unknown_identifiers`: an object of lists).
FINAL_FIELDS = ("version", "status", "kind", "application", "priority", "enqueued_at",
                "expires_at", "idempotency_key", "updated_at", "dead_reason", "last_error",
                "replayed_at", "message_code", "unknown_identifiers")
#: Live record fields that are the worker's bookkeeping, not part of an outcome.
PRIVATE_FIELDS = ("lease_until", "lease_owner", "sending_since", "body", "log", "dispatch",
                  "spent", "attempts")
_FLOATS = ("enqueued_at", "expires_at", "updated_at", "next_attempt_at", "replayed_at")


def decode_record(job_id: str, raw: bytes | dict[bytes, bytes]) -> dict[str, Any]:
    """The outcome, from a live record (a hash) or a final one (the compact string)."""
    if isinstance(raw, bytes):
        head, _, log = raw.partition(b"\n")
        values = json.loads(head)
        record = {name: value for name, value in zip(FINAL_FIELDS, values, strict=False)
                  if value is not None}
        record.pop("version")
    else:
        record = {k.decode(): v.decode() for k, v in raw.items()}
        log = raw.get(b"log", b"")
        for name in PRIVATE_FIELDS:
            record.pop(name, None)
    for name in _FLOATS:
        if record.get(name):
            record[name] = float(record[name])
    attempts = log_rows(log)
    record.update(job_id=job_id, attempts=attempts, attempt_count=len(attempts),
                  idempotency_key=record.get("idempotency_key") or None)
    return record


class OutcomeStore:
    """The read side of the records (the worker writes them: worker/store/claims.py)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def read(self, job_id: str) -> dict[str, Any] | None:
        raw = read_raw(self._redis, self._keys.outcome(job_id))
        return decode_record(job_id, raw) if raw else None


def read_raw(client: redis.Redis, key: str) -> bytes | dict[bytes, bytes] | None:
    """The record as stored: the hash of a live job, or the string of a final one."""
    try:
        return client.hgetall(key) or None
    except redis.ResponseError as exc:  # WRONGTYPE: final, kept as one string
        _unless_final(exc)
        return _string(client.get(key))


async def aread_raw(client: redis.asyncio.Redis,
                    key: str) -> bytes | dict[bytes, bytes] | None:
    """`read_raw` on an asyncio client (the async producer's read side)."""
    try:
        return await client.hgetall(key) or None  # type: ignore[misc]
    except redis.ResponseError as exc:
        _unless_final(exc)
        return _string(await client.get(key))


def _unless_final(exc: redis.ResponseError) -> None:
    """Re-raise a reply error other than WRONGTYPE (which means: a final record)."""
    if "WRONGTYPE" not in str(exc):
        raise exc


def _string(value: Any) -> bytes | None:
    return value if isinstance(value, bytes) else None


def is_final(record: dict[str, Any] | None) -> bool:
    """Whether a job whose outcome reads `record` is done (succeeded or dead)."""
    return bool(record) and record["status"] in FINAL  # type: ignore[index]


def still_waiting(job_id: str, record: dict[str, Any] | None, timeout: float) -> TimeoutError:
    """The error `wait` raises when `timeout` passed before the job was final."""
    status = record["status"] if record else "unknown"
    return TimeoutError(f"job {job_id} still {status} after {timeout:g}s")
