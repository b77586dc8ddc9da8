"""The job envelope: one validated NotifyRequest plus what delivery needs to know.

A job travels as the single JSON argument of the `notify_relay.send` task, or as one
item of the list argument of `notify_relay.send_batch`. It never
holds the API token (the worker adds that to the HTTP header).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

#: The task name producers publish to; the worker registers its task under it.
TASK_NAME = "notify_relay.send"
#: The task `Producer.enqueue_many` publishes: one message, several jobs.
BATCH_TASK_NAME = "notify_relay.send_batch"

_TARGET_LISTS = ("hwids", "users", "push_tokens")


@dataclass(frozen=True)
class Job:
    job_id: str
    request: dict[str, Any]
    enqueued_at: float
    expires_at: float
    idempotency_key: str | None = None
    #: sends recorded so far; also the fencing token that makes stale copies harmless
    attempt: int = 0
    #: failed sends counted against NOTIFY_MAX_ATTEMPTS (429 and 401/403 waits are not);
    #: `retries` in the message
    attempts_spent: int = 0

    @classmethod
    def new(
        cls,
        request: dict[str, Any],
        *,
        max_age_s: float,
        idempotency_key: str | None = None,
        expires_in: float | None = None,
        now: float | None = None,
    ) -> Job:
        now = time.time() if now is None else now
        ttl = max_age_s if expires_in is None else expires_in
        return cls(
            job_id=str(uuid.uuid4()),
            request=request,
            enqueued_at=now,
            expires_at=now + ttl,
            idempotency_key=idempotency_key,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(
            job_id=str(data["job_id"]),
            request=data["request"],
            enqueued_at=float(data["enqueued_at"]),
            expires_at=float(data["expires_at"]),
            idempotency_key=data.get("idempotency_key"),
            attempt=int(data.get("attempt", 0)),
            attempts_spent=int(data.get("retries", 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["retries"] = data.pop("attempts_spent")
        return data

    def next(self, *, spend: bool) -> Job:
        """The job as it will be tried after one more recorded send."""
        return replace(self, attempt=self.attempt + 1,
                       attempts_spent=self.attempts_spent + int(spend))

    def fresh_budget(self, *, max_age_s: float, now: float) -> Job:
        """For a replay: same id and key, attempt log continues, new budget and deadline."""
        return replace(self, attempts_spent=0, enqueued_at=now, expires_at=now + max_age_s)

    @property
    def kind(self) -> str:
        return "segment" if "segment" in self.request else "transactional"

    @property
    def body(self) -> dict[str, Any]:
        value = self.request.get(self.kind)
        return value if isinstance(value, dict) else {}

    @property
    def application(self) -> str:
        return str(self.body.get("application", ""))

    def summary(self) -> str:
        """What Flower and logs may show: no targets, no content, no token."""
        body = self.body
        platforms = body.get("platforms") or []
        targets = sum(len((body.get(name) or {}).get("list") or []) for name in _TARGET_LISTS)
        parts = [
            f"job={self.job_id}",
            f"kind={self.kind}",
            f"app={self.application}",
            f"platforms={','.join(map(str, platforms)) if isinstance(platforms, list) else '?'}",
        ]
        if self.kind == "transactional":
            parts.append(f"targets={targets}")
        parts.append(f"attempt={self.attempt}")
        return " ".join(parts)
