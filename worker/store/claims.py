"""Claims and outcome writes: the worker's side of a job's record (`{job}:outcome`).

The effectively-once protocol, one script per step:
* `claim` (claim.lua) before a send: a lease (owner + expiry) and the dispatch number as
  a fencing token, so an old copy of a job's message, or a copy of one that already
  succeeded, is acknowledged without a POST. It answers with the job itself (its request
  as stored) and how long to wait for its slot.
* after the send, exactly one of `succeed`, `retry` or `bury` (dead); or `release` to
  give a claim back without a send. Each is fenced by the claim's owner: a worker that
  outlived its lease gets `RecordResult.LATE`, its attempt is logged as late, and nothing
  else changes.
* `requeue` puts back jobs handed to this worker that it never claimed.
The record's shape (fields, statuses, the final compact form) is `producers/outcomes.py`.
`succeed` and `bury` also add the outcome's webhook events to the outbox (`hooks:*`,
worker/store/webhooks.py) and `succeed` the unknown identifiers to their log (`unknown:*`,
worker/store/unknown.py), in the same script as the record.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from producers.job import Job, Priority
from producers.keys import Keys
from producers.outcomes import Attempt, DeadReason, Status
from producers.scripts import Script
from producers.settings import Settings
from worker.store.limiter import LIMITER_NUMBERS, Budget
from worker.store.webhooks import HookDead

#: Webhook events as the record scripts take them: (event id, outbox entry).
Events = Sequence[tuple[str, str]]

_LUA = Path(__file__).with_name("lua")


class ClaimResult(enum.StrEnum):
    """What a claim answered (claim.lua)."""

    CLAIMED = "claimed"  # this worker may send
    FINAL = "final"  # already succeeded or dead: acknowledge, never send again
    STALE = "stale"  # an old copy: the job was handed out again since
    LEASED = "leased"  # another worker is sending it right now: this copy is a duplicate
    UNKNOWN = "unknown"  # no record (expired, or never enqueued here)
    HELD = "held"  # its application got a 429 meanwhile: back to wait, unsent


class ClaimDetail(enum.StrEnum):
    ABANDONED = "abandoned"  # a previous holder died mid-send


class RecordResult(enum.StrEnum):
    DONE = "done"
    LATE = "late"  # the claim had ended: only the attempt was logged


_RECORDS = [_LUA / "records.lua"]
_LIMITER = [_LUA / "gcra.lua"]
_OUTBOX = [_LUA / "deadletters.lua", _LUA / "webhooks.lua"]
CLAIM = Script(_LUA / "claim.lua", Status, ClaimResult, ClaimDetail, numbers=LIMITER_NUMBERS,
               includes=_RECORDS + _LIMITER)
SUCCEED = Script(_LUA / "succeed.lua", Status, RecordResult, HookDead,
                 includes=[*_RECORDS, *_OUTBOX, _LUA / "unknown.lua"])
RETRY = Script(_LUA / "retry.lua", Status, RecordResult, includes=_RECORDS)
BURY = Script(_LUA / "bury.lua", Status, RecordResult, HookDead, includes=[*_RECORDS, *_OUTBOX])
RELEASE = Script(_LUA / "release.lua", Status, RecordResult, includes=_RECORDS)
REQUEUE = Script(_LUA / "requeue.lua", Status, includes=_RECORDS)


@dataclass(frozen=True)
class Item:
    """One job a dispatched message carries: id, dispatch number, slot (ms; -1 none)."""

    job_id: str
    dispatch: int
    slot_ms: float
    probe: bool = False

    @classmethod
    def parse(cls, value: Any) -> Item:
        job_id, dispatch, slot, *rest = value
        return cls(str(job_id), int(dispatch), float(slot), bool(rest and rest[0]))


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    detail: str = ""  # final: the status; leased: lease end (ms)
    job: Job | None = None  # claimed: the job as stored
    body: bytes = b""  # claimed: the request exactly as enqueued (what is POSTed)
    wait_s: float = 0.0  # claimed: until its slot
    redis_now: float = 0.0  # claimed: Redis's clock at the claim (epoch s)

    @property
    def abandoned(self) -> bool:
        return self.detail == ClaimDetail.ABANDONED


def parse_claim(job_id: str, reply: list[Any]) -> Claim:
    result = ClaimResult(_text(reply[0]))
    if result is not ClaimResult.CLAIMED:
        return Claim(result, _text(reply[1]) if len(reply) > 1 and reply[1] else "")
    (_, detail, attempts, spent, body, expires_at, enqueued_at, _kind, _app, priority, idem,
     wait_ms, now_ms) = reply
    body = body or b"{}"
    job = Job(job_id=job_id, request=json.loads(body), enqueued_at=float(enqueued_at or 0),
              expires_at=float(expires_at or 0), idempotency_key=_text(idem) or None,
              attempt=int(attempts), attempts_spent=int(spent),
              priority=Priority.parse(_text(priority) or Priority.NORMAL))
    return Claim(result, _text(detail), job, body, float(wait_ms) / 1000,
                 float(now_ms) / 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClaimStore:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings,
                 budget: Budget, *, outbox_keys: list[str], unknown_keys: list[str]) -> None:
        self._redis = client
        self._keys = keys
        self._ttl_ms = int(settings.outcome_ttl_s * 1000)
        self._dead_ttl_ms = int(settings.dead_ttl_s * 1000)
        self._dead_max = settings.dead_max
        self._budget = budget
        self._outbox_keys = outbox_keys
        self._unknown_keys = unknown_keys
        self._unknown_max = settings.unknown_ids_max
        self._pending_max = settings.webhook_max_pending

    def claim(self, item: Item, *, owner: str, lease_s: float,
              now: float | None = None) -> Claim:
        keys = [self._keys.outcome(item.job_id), self._keys.watch, self._budget.token_key,
                self._budget.held_key]
        args = [item.job_id, item.dispatch, owner, int(lease_s * 1000), _ms(now), item.slot_ms,
                self._budget.late_ms, self._budget.rate.per_second, self._budget.rate.burst,
                self._keys.prefix]
        return parse_claim(item.job_id, CLAIM(self._redis, keys, args))

    def succeed(self, job: Job, owner: str, attempt: Attempt, now: float | None = None, *,
                unknown: dict[str, list[str]] | None = None, unknown_entry: str = "",
                events: Events = ()) -> RecordResult:
        """Final: succeeded; `unknown` (the identifiers by kind) goes in the record and,
        as `unknown_entry`, in their log; `events` join the webhook outbox."""
        keys = [self._keys.outcome(job.job_id), self._keys.watch, *self._outbox_keys,
                *self._unknown_keys]
        args = [owner, attempt.row(), _ms(now), self._ttl_ms, attempt.message_code or "",
                job.job_id, _compact(unknown) if unknown else "", unknown_entry, self._ttl_ms,
                self._unknown_max, self._pending_max, self._dead_ttl_ms, self._dead_max,
                *(part for event in events for part in event)]
        return RecordResult(_text(SUCCEED(self._redis, keys, args)))

    def retry(self, job: Job, owner: str, attempt: Attempt, due_at: float, *, spend: bool,
              now: float | None = None) -> RecordResult:
        keys = [self._keys.outcome(job.job_id), self._keys.retries, self._keys.watch]
        args = [owner, attempt.row(), _ms(now), int(due_at * 1000), int(spend),
                attempt.error or "", job.job_id]
        return RecordResult(_text(RETRY(self._redis, keys, args)))

    def bury(self, job: Job, owner: str, attempt: Attempt | None, reason: DeadReason,
             error: str | None, now: float,
             events: Events = ()) -> RecordResult:
        """Dead: the record goes final, and the dead letter keeps the job (byte for byte:
        it is serialised here, in Python, never re-encoded by Lua) and its attempt log."""
        entry = {"reason": reason.value, "dead_at": now, "application": job.application,
                 "kind": job.kind, "priority": job.priority.value, "last_error": error,
                 "job": job.to_dict()}
        keys = [self._keys.outcome(job.job_id), self._keys.dead_index,
                self._keys.dead_entries, self._keys.dead_reasons, self._keys.watch,
                *self._outbox_keys]
        args = [owner, attempt.row() if attempt else "", int(now * 1000), self._ttl_ms,
                reason.value,
                error or "", job.job_id, json.dumps(entry)[:-1], self._dead_ttl_ms,
                self._dead_max, self._pending_max, *(part for event in events for part in event)]
        return RecordResult(_text(BURY(self._redis, keys, args)))

    def release(self, job: Job, owner: str, now: float | None = None) -> RecordResult:
        keys = [self._keys.outcome(job.job_id), self._keys.watch]
        return RecordResult(_text(RELEASE(self._redis, keys, [owner, _ms(now),
                                                              self._keys.prefix, job.job_id])))

    def requeue(self, items: list[Item]) -> int:
        if not items:
            return 0
        args = [self._keys.prefix, *(x for item in items for x in (item.job_id, item.dispatch))]
        return int(REQUEUE(self._redis, [self._keys.watch], args))


def _compact(value: Any) -> str:
    """JSON with no line break (the final record's head ends at the first one)."""
    return json.dumps(value, separators=(",", ":"))


def _ms(now: float | None) -> str | int:
    """A time passed to a script: '' lets it use Redis's clock (production)."""
    return "" if now is None else int(now * 1000)
