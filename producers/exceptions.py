"""What application code meets when notify-relay fails: one tree, one base.

    NotifyRelayError             `except producers.NotifyRelayError` catches all of these
    ├── ValidationError          the request breaks the contract; nothing was queued
    │                            (also a `marshmallow.ValidationError`)
    ├── SettingsError            a variable, or the login in REDIS_URL, cannot be used
    │                            (also a `ValueError`)
    └── QueueError               Redis did not do what was asked; `endpoint` names it
        │                        (host:port/db, never the password)
        ├── QueueUnavailable     unreachable, timed out, loading, read-only, failing over:
        │                        `retryable`, with `retry_after_s`
        ├── QueueFull            Redis refused the write: out of memory under noeviction
        └── NotReplicated        written on the primary, not confirmed by enough replicas
                                 in time (WAIT): a failover now could lose it

The axis is httpx's: "nothing usable answered" (`QueueUnavailable`: wait and retry) is
apart from "Redis answered no" (`QueueFull`, plain `QueueError`: a person must act).
Every error says what happened, why, and what to do: `describe()` gives the three
clauses and `one_line()` joins them as `what: why; what to do`, the line the CLI prints
after `notify-relay: ` and the worker logs. redis-py's errors become these in one place,
`producers.redis_errors` (its table says which becomes which), and stay on as
`__cause__`. `http_status_for(error)` is what the HTTP API answers for each.

Not in the tree: `EmulatorError` (emulator/client.py) belongs to the emulator, a dev tool
kept independent of this package (it must not import `producers`), and application code
never meets it. Click's usage errors stay click's: they belong to the command line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import marshmallow
from marshmallow.exceptions import SCHEMA as SCHEMA_KEY

__all__ = [
    "NotReplicated",
    "NotifyRelayError",
    "QueueError",
    "QueueFull",
    "QueueUnavailable",
    "SettingsError",
    "ValidationError",
    "flatten_messages",
    "format_line",
    "http_status_for",
    "one_line",
]

#: How long a client should wait before retrying on a Redis that did not answer.
RETRY_AFTER_S = 1.0
#: What to do about a bad variable, unless the error knows better.
SETTINGS_TODO = "fix it in the environment (`notify-relay config` lists every variable)"


class NotifyRelayError(Exception):
    """The base of every error notify-relay raises to application code."""

    #: True when the same call may succeed later unchanged (wait `retry_after_s`).
    retryable: ClassVar[bool] = False

    def describe(self) -> tuple[str, str, str]:
        """(what happened, why, what to do): the three clauses of `one_line`."""
        return "notify-relay failed", str(self), ""


class ValidationError(NotifyRelayError, marshmallow.ValidationError):
    """A request broke the contract; `messages` is a nested dict keyed by field."""

    def __str__(self) -> str:
        return "\n".join(f"{path}: {text}" for path, text in flatten_messages(self.messages))

    def describe(self) -> tuple[str, str, str]:
        why = "; ".join(line.rstrip(".") for line in str(self).splitlines())
        return "invalid request", why, "fix the fields named; nothing was queued"


class SettingsError(NotifyRelayError, ValueError):
    """A variable has a value the service cannot start with; the text names it."""

    def __init__(self, message: str, todo: str = SETTINGS_TODO) -> None:
        super().__init__(message)
        self.todo = todo

    def describe(self) -> tuple[str, str, str]:
        return "configuration error", str(self), self.todo


class QueueError(NotifyRelayError):
    """Redis did not do what was asked. `endpoint` is host:port/db, without a password."""

    def __init__(self, what: str, why: str, todo: str, endpoint: str,
                 retry_after_s: float | None = None) -> None:
        # All in args: the error pickles (a process pool, a task result) as it is.
        super().__init__(what, why, todo, endpoint, retry_after_s)
        self.what, self.why, self.todo = what, why, todo
        self.endpoint, self.retry_after_s = endpoint, retry_after_s

    def __str__(self) -> str:
        return format_line(self.what, self.why, self.todo)

    def describe(self) -> tuple[str, str, str]:
        return self.what, self.why, self.todo


class QueueUnavailable(QueueError):
    """Nothing usable answered: unreachable, timed out, loading, read-only, failing over."""

    retryable = True


class QueueFull(QueueError):
    """Redis refused the write: it is at `maxmemory` under `noeviction`."""


class NotReplicated(QueueError):
    """Written on the primary, but fewer replicas than asked confirmed it in time.

    The write may be lost if the primary fails now. Repeating it is safe with the same
    idempotency key: if it survived, the first job's id comes back (and the repeat waits
    for the replicas again). `job_ids`, `wanted` and `acked` say which and how far.
    """

    job_ids: tuple[str, ...] = ()
    wanted: int = 0
    acked: int = 0

    @classmethod
    def after_wait(cls, endpoint: str, *, wanted: int, acked: int, timeout_s: float,
                   job_ids: Sequence[str] = ()) -> NotReplicated:
        ids = tuple(str(job_id) for job_id in job_ids)
        error = cls(f"redis at {endpoint} did not replicate {_the_jobs(ids)}",
                    f"{acked} of {wanted} replica(s) confirmed it within {timeout_s:g}s",
                    "enqueue again with the same idempotency key (the first job's id comes "
                    "back if it survived); check the replicas' link to the primary",
                    endpoint)
        error.job_ids, error.wanted, error.acked = ids, wanted, acked
        return error


#: Job ids a NotReplicated message names at most (an enqueue_many may hold thousands).
SHOWN_JOB_IDS = 3


def _the_jobs(ids: tuple[str, ...]) -> str:
    if not ids:
        return "the write"
    shown = ", ".join(ids[:SHOWN_JOB_IDS])
    more = f" and {len(ids) - SHOWN_JOB_IDS} more" if len(ids) > SHOWN_JOB_IDS else ""
    return f"job {shown}" if len(ids) == 1 else f"jobs {shown}{more}"


def flatten_messages(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Turn marshmallow's nested messages into (dotted.path, text) pairs.

    An object-level error (`_schema`) is reported at the object's own path, e.g.
    `segment: Exactly one of code, expression, filter_expression is required.`
    """
    if isinstance(messages, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in messages.items():
            if key == SCHEMA_KEY and prefix:
                path = prefix
            else:
                path = f"{prefix}.{_segment(key)}" if prefix else _segment(key)
            pairs.extend(flatten_messages(value, path))
        return pairs
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return [(prefix or SCHEMA_KEY, " ".join(messages))]
        return [pair for m in messages for pair in flatten_messages(m, prefix)]
    return [(prefix or SCHEMA_KEY, str(messages))]


_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")


def _segment(key: Any) -> str:
    """A path segment as typed: plain names bare, anything else JSON-quoted (`"a.b"`)."""
    text = str(key)
    return text if _PLAIN_SEGMENT.fullmatch(text) else json.dumps(text)


def format_line(what: str, why: str, todo: str = "") -> str:
    """`what: why; todo` on one line (a log line, a health-check log, one stderr line)."""
    text = f"{what}: {why}; {todo}" if todo else f"{what}: {why}"
    return " ".join(text.split())


def one_line(error: NotifyRelayError, *, todo: str | None = None) -> str:
    """The error as one line; `todo` replaces its advice (the worker says what it does)."""
    what, why, advice = error.describe()
    return format_line(what, why, advice if todo is None else todo)


def http_status_for(error: NotifyRelayError) -> tuple[int, int | None]:
    """(status, Retry-After seconds or None) the HTTP API answers for `error`.

    503 + Retry-After: Redis unavailable; 507: Redis full; 503: not replicated (the
    client repeats with its idempotency key); 422: an invalid request; 500: the rest
    (our settings, a Redis reply nobody expected).
    """
    if isinstance(error, QueueUnavailable):
        return 503, math.ceil(error.retry_after_s or RETRY_AFTER_S)
    if isinstance(error, QueueFull):
        return 507, None
    if isinstance(error, NotReplicated):
        return 503, None
    if isinstance(error, ValidationError):
        return 422, None
    return 500, None
