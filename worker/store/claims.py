"""Claims and outcome writes: the worker's side of the `{job}:outcome` / `{job}:attempts` keys.

The effectively-once protocol. Before a send the worker claims the job (claim.lua): a
lease (owner + expiry) and the attempt count as a fencing token, so an old copy of the
job's message, or a copy of one that already succeeded, is acknowledged without a POST.
After the send it records the new state (record.lua); a final state is never overwritten.
The record's shape (fields, statuses) is `producers/outcomes.py`, shared with the readers.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from producers.job import Job
from producers.keys import Keys
from producers.outcomes import Attempt, Status, initial_fields
from producers.scripts import Script

_LUA = Path(__file__).with_name("lua")


class ClaimResult(enum.StrEnum):
    """What a claim answered (claim.lua)."""

    CLAIMED = "claimed"  # this worker may send
    FINAL = "final"  # already succeeded or dead: acknowledge, never send again
    STALE = "stale"  # an old copy of the message (the attempt count moved on): drop it
    LEASED = "leased"  # another worker is sending it right now


#: A previous holder died mid-send (the `detail` of a takeover claim).
ABANDONED = "abandoned"

CLAIM = Script(_LUA / "claim.lua", Status, ClaimResult)
RECORD = Script(_LUA / "record.lua", Status)


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    detail: str  # claimed: ABANDONED or ""; final: the status; leased: lease end (ms)
    attempts: int = 0  # claimed: sends recorded so far, the count the next send builds on

    @property
    def abandoned(self) -> bool:
        return self.detail == ABANDONED


def parse_claim(job: Job, reply: list[bytes]) -> Claim:
    attempts = int(reply[2]) if len(reply) > 2 else job.attempt
    return Claim(ClaimResult(reply[0].decode()), reply[1].decode(), attempts)


class ClaimStore:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: float) -> None:
        self._redis = client
        self._keys = keys
        self._ttl_ms = int(ttl_s * 1000)

    def claim(self, job: Job, *, owner: str, lease_s: float, now: float | None = None) -> Claim:
        keys, args = self._claim_call(job, owner, lease_s, now)
        return parse_claim(job, CLAIM(self._redis, keys, args))

    def queue_claim(self, pipe: redis.client.Pipeline, job: Job, *, owner: str,
                    lease_s: float, now: float | None = None) -> None:
        """`claim` on a pipeline (read the reply with `parse_claim`).

        A retried claim by the same owner is recognised as the same claim, so the
        NOSCRIPT re-run (producers/scripts.py) cannot claim twice.
        """
        CLAIM.queue(pipe, *self._claim_call(job, owner, lease_s, now))

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
        keys = [self._keys.outcome(job.job_id), self._keys.attempts(job.job_id)]
        RECORD.queue(pipe, keys, [self._ttl_ms, attempt.to_json() if attempt else "",
                                  "1" if revive else "", *pairs])

    def release(self, pipe: redis.client.Pipeline, job: Job, status: Status) -> None:
        """Give a claim back without a send (rate limit, open circuit): status only."""
        self.record(pipe, job, None, status)
