"""The outcome store: one status record and one attempt log per job.

Owner of the `{job}:outcome` hash and the `{job}:attempts` list (see keys.py).
Producers create and read records; the worker claims and updates them through
the functions here, so the record's shape lives in one module.
"""

from __future__ import annotations

import enum
import hashlib
import json
import time
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

#: Why a job is dead (`dead_reason` in its outcome, `reason` in its dead letter).
DEAD_REASONS = ("permanent", "max_attempts", "expired", "ambiguous")


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


# Claim before a send. Returns {verdict, detail} (and for `claimed`, the attempt count the
# send goes on from):
#   claimed   - this worker may send; detail = "abandoned" when a previous holder died mid-send
#   final     - already succeeded or dead: acknowledge, never send again
#   stale     - the message is an old copy (attempt count moved on): drop it
#   leased    - another worker is sending right now; detail = lease end (ms)
# A takeover moves the count on without a new message, so the message its holder keeps
# carries the older count. If that holder dies too, its redelivered copy is the only one
# left: a job in `sending` whose lease has run out is taken over by any copy, never stale.
# ARGV: expected attempt count, now ms, lease ms, owner, ttl ms, initial field, value, ...
_CLAIM = """
local h = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'lease_until', 'sending_since',
  'lease_owner')
local now = tonumber(ARGV[2])
if not h[1] then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
  h[1] = 'queued'; h[2] = '0'
end
if h[1] == 'succeeded' or h[1] == 'dead' then return {'final', h[1]} end
local attempts = tonumber(h[2] or '0')
-- the same delivery retrying this script after a dropped connection: still ours
if h[1] == 'sending' and h[5] == ARGV[4] then return {'claimed', '', tostring(attempts)} end
local orphaned = h[1] == 'sending' and tonumber(h[3] or '0') <= now
if attempts ~= tonumber(ARGV[1]) and not orphaned then return {'stale', tostring(attempts)} end
local detail = ''
if h[1] == 'sending' then
  if tonumber(h[3] or '0') > now then return {'leased', h[3]} end
  detail = 'abandoned'
  local lost = cjson.encode({number = attempts + 1, started_at = tonumber(h[4] or '0') / 1000,
    outcome = 'ambiguous', ambiguous = true,
    error = 'worker lost before the result was recorded'})
  redis.call('RPUSH', KEYS[2], lost)
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  attempts = attempts + 1
end
redis.call('HSET', KEYS[1], 'status', 'sending', 'lease_until', now + tonumber(ARGV[3]),
  'lease_owner', ARGV[4], 'sending_since', now, 'updated_at', now / 1000)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {'claimed', detail, tostring(attempts)}
"""


_CLAIM_SHA = hashlib.sha1(_CLAIM.encode()).hexdigest()  # what Redis names the script by


# Record a state change. KEYS: outcome hash, attempts list. ARGV: ttl ms, attempt json ('':
# none), '1' to revive a final job (a replay), field, value, ... Returns 1, or 0 when the
# job was already final (nothing changed but the attempt log): a worker that outlived its
# lease must not undo another's result.
# The attempt is appended unless that exact entry is the last one: the worker's Redis
# client re-sends a whole transaction whose reply was lost (runtime.py rides out restarts
# that way), and the first send may have been applied.
_RECORD = """
if ARGV[2] ~= '' then
  if redis.call('LINDEX', KEYS[2], -1) ~= ARGV[2] then redis.call('RPUSH', KEYS[2], ARGV[2]) end
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
local status = redis.call('HGET', KEYS[1], 'status')
if (status == 'succeeded' or status == 'dead') and ARGV[3] ~= '1' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('HDEL', KEYS[1], 'lease_until', 'lease_owner')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Claim:
    verdict: str
    detail: str
    attempts: int = 0  # claimed: sends recorded so far, the count the next send builds on

    @property
    def abandoned(self) -> bool:
        return self.detail == "abandoned"


def parse_claim(job: Job, reply: list[bytes]) -> Claim:
    attempts = int(reply[2]) if len(reply) > 2 else job.attempt
    return Claim(reply[0].decode(), reply[1].decode(), attempts)


class OutcomeStore:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: float) -> None:
        self._redis = client
        self._keys = keys
        self._ttl_ms = int(ttl_s * 1000)
        self._claim = client.register_script(_CLAIM)

    def read(self, job_id: str) -> dict[str, Any] | None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._keys.outcome(job_id))
        pipe.lrange(self._keys.attempts(job_id), 0, -1)
        raw, attempts = pipe.execute()
        return _decode_record(raw, attempts) if raw else None

    def claim(self, job: Job, *, owner: str, lease_s: float, now: float | None = None) -> Claim:
        keys, args = self._claim_call(job, owner, lease_s, now)
        return parse_claim(job, self._claim(keys=keys, args=args))

    def queue_claim(self, pipe: redis.client.Pipeline, job: Job, *, owner: str,
                    lease_s: float, now: float | None = None) -> None:
        """`claim` as one EVALSHA on a pipeline (read the reply with `parse_claim`).

        EVALSHA, not the registered script: redis-py asks SCRIPT EXISTS before every
        pipeline holding a script object, a round trip per send. The caller handles a
        NOSCRIPT reply (a restarted Redis) by calling `claim`, which loads the script;
        a second claim by the same owner is recognised as the same claim.
        """
        keys, args = self._claim_call(job, owner, lease_s, now)
        pipe.evalsha(_CLAIM_SHA, len(keys), *keys, *args)

    def _claim_call(self, job: Job, owner: str, lease_s: float,
                    now: float | None) -> tuple[list[str], list[Any]]:
        now_ms = int((time.time() if now is None else now) * 1000)
        fields = [x for pair in initial_fields(job, now_ms / 1000).items() for x in pair]
        keys = [self._keys.outcome(job.job_id), self._keys.attempts(job.job_id)]
        return keys, [job.attempt, now_ms, int(lease_s * 1000), owner, self._ttl_ms, *fields]

    def record(
        self, pipe: redis.client.Pipeline, job: Job, attempt: Attempt | None, status: Status,
        *, revive: bool = False, **fields: str | float | int,
    ) -> None:
        """Queue the status change (and the attempt, if one was made) on `pipe`.

        A final status (succeeded, dead) is never overwritten, unless `revive` (a replay).
        """
        values: dict[str, str] = {k: str(v) for k, v in fields.items()}
        values.update(status=status.value, updated_at=repr(time.time()))
        if attempt is not None:
            values["attempts"] = str(attempt.number)
        pairs = [x for pair in values.items() for x in pair]
        # EVAL, not a cached script: after a Redis restart the cache is empty, and a
        # re-sent transaction would fail on EVALSHA.
        pipe.eval(_RECORD, 2, self._keys.outcome(job.job_id), self._keys.attempts(job.job_id),
                  self._ttl_ms, attempt.to_json() if attempt else "", "1" if revive else "",
                  *pairs)

    def release(self, pipe: redis.client.Pipeline, job: Job, status: Status) -> None:
        """Give a claim back without a send (rate limit, open circuit): status only."""
        self.record(pipe, job, None, status)
