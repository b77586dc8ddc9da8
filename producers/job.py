"""The job envelope: one validated NotifyRequest plus what delivery needs to know.

A job is stored once, in its record (producers/outcomes.py), with the request exactly as
it will be POSTed; the worker rebuilds it from the record when it claims it. As a dict
(`to_dict`) it is what a dead letter keeps, and what a message published by another
tool may carry (`notify_relay.send`). It never holds the API token (the worker adds that
to the HTTP header).
"""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

#: The task the dispatcher hands jobs out with: one message, one or more job ids.
DELIVER_TASK_NAME = "notify_relay.deliver"
#: Tasks that carry whole jobs, for tools that publish with Celery directly: the worker
#: takes each job into its waiting list (and so under the budget and the priorities).
TASK_NAME = "notify_relay.send"
BATCH_TASK_NAME = "notify_relay.send_batch"


class Priority(enum.StrEnum):
    """Which waiting jobs go first when the send budget is short (worker/store/waiting.py)."""

    URGENT = "urgent"  # one-time codes, security alerts: sent within a moment
    NORMAL = "normal"
    BULK = "bulk"  # campaigns: what is left, and a small share (NOTIFY_BULK_SHARE)

    @classmethod
    def parse(cls, value: str | Priority) -> Priority:
        try:
            return cls(value)
        except ValueError:
            accepted = ", ".join(repr(p.value) for p in cls)
            raise ValueError(f"priority must be one of {accepted}, not {value!r}") from None

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
    priority: Priority = Priority.NORMAL

    @classmethod
    def new(
        cls,
        request: dict[str, Any],
        *,
        max_age_s: float,
        idempotency_key: str | None = None,
        expires_in: float | None = None,
        now: float | None = None,
        priority: str | Priority = Priority.NORMAL,
    ) -> Job:
        now = time.time() if now is None else now
        ttl = max_age_s if expires_in is None else expires_in
        return cls(
            job_id=str(uuid.uuid4()),
            request=request,
            enqueued_at=now,
            expires_at=now + ttl,
            idempotency_key=idempotency_key,
            priority=Priority.parse(priority),
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
            priority=Priority.parse(data.get("priority") or Priority.NORMAL),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["retries"] = data.pop("attempts_spent")
        data["priority"] = self.priority.value
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
