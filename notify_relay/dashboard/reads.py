"""What the pages show and what their buttons do, over the same stores as the CLI.

The overview is `worker.store.stats.collect`, the snapshot `notify-relay stats --json`
prints (the numbers cannot disagree); dead letters are `DeadLetterStore` (`iter_newest`,
`replay`, `purge`, as `notify-relay dead ...`); a job is its outcome record as
`notify-relay outcome` and `GET /v1/notifications/{id}` read it (`OutcomeStore`).

Nothing here returns a job's request: a page shows the summary Flower shows
(`Job.summary`: id, kind, application, platforms, how many targets, attempt) and the
attempt log. No token, content, targets or unknown identifiers (only how many).
All blocking (sync Redis): the routes call these in a thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from producers.job import Job
from producers.outcomes import DEAD_REASONS, OutcomeStore
from worker.store import Stores
from worker.store.stats import collect

#: Dead letters one list page shows at most (newest first).
LIST_MAX = 200
#: An error text on a list row is cut to this many characters.
ROW_ERROR_CHARS = 120
#: Longest application code a filter takes (Pushwoosh codes are 11 characters).
APPLICATION_MAX = 64


class BadFilter(ValueError):
    """A filter value the dead-letter list cannot take (said on a 400 page)."""


@dataclass(frozen=True)
class Filters:
    """Which dead letters: reason, application, and age in minutes (dead at least
    `older_than_min` ago, at most `newer_than_min` ago)."""

    reason: str | None = None
    application: str | None = None
    older_than_min: float | None = None
    newer_than_min: float | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> Filters:
        reason = params.get("reason") or None
        if reason is not None and reason not in DEAD_REASONS:
            raise BadFilter(f"reason must be one of {', '.join(DEAD_REASONS)}")
        application = (params.get("application") or "").strip() or None
        if application is not None and len(application) > APPLICATION_MAX:
            raise BadFilter(f"application: at most {APPLICATION_MAX} characters")
        return cls(reason, application, _minutes(params, "older_than_min"),
                   _minutes(params, "newer_than_min"))

    def query(self) -> dict[str, str]:
        """The filters as query / form fields (only those set)."""
        values = {"reason": self.reason, "application": self.application,
                  "older_than_min": _shown(self.older_than_min),
                  "newer_than_min": _shown(self.newer_than_min)}
        return {k: v for k, v in values.items() if v}

    @property
    def any(self) -> bool:
        return bool(self.query())


def _minutes(params: dict[str, str], name: str) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 10 * 365 * 24 * 60:  # NaN too
        raise BadFilter(f"{name}: a number of minutes, 0 or more")
    return value


def _shown(minutes: float | None) -> str:
    return "" if minutes is None else f"{minutes:g}"


def overview(stores: Stores) -> dict[str, Any]:
    return collect(stores)


def matching(stores: Stores, filters: Filters, now: float | None = None,
             ) -> Iterator[dict[str, Any]]:
    """Dead letters that match, newest first (as read from the store)."""
    now = time.time() if now is None else now
    older = None if filters.older_than_min is None else now - filters.older_than_min * 60
    newest_first = stores.dead.iter_newest(reason=filters.reason,
                                           application=filters.application, older_than=older)
    floor = None if filters.newer_than_min is None else now - filters.newer_than_min * 60
    for entry in newest_first:
        if floor is not None and entry["dead_at"] < floor:
            return  # newest first: every later one is older still
        yield entry


def dead_rows(stores: Stores, filters: Filters) -> tuple[list[dict[str, Any]], bool]:
    """Up to LIST_MAX list rows, and whether more match."""
    rows: list[dict[str, Any]] = []
    for entry in matching(stores, filters):
        if len(rows) == LIST_MAX:
            return rows, True
        rows.append(row(entry))
    return rows, False


def row(entry: dict[str, Any]) -> dict[str, Any]:
    error = entry.get("last_error") or ""
    return {"job_id": str(entry["job"]["job_id"]), "dead_at": entry["dead_at"],
            "reason": entry["reason"], "application": str(entry.get("application", "")),
            "attempts": len(entry.get("attempts", [])),
            "error": error if len(error) <= ROW_ERROR_CHARS else error[:ROW_ERROR_CHARS] + "…"}


def job(stores: Stores, job_id: str) -> dict[str, Any] | None:
    """A job's page: its outcome (no request), its dead letter's summary, its attempts."""
    record = OutcomeStore(stores.redis, stores.keys).read(job_id)
    entry = stores.dead.get(job_id)
    if record is None and entry is None:
        return None
    view = dict(record or {})
    for private in ("idempotency_key", "request", "body"):
        view.pop(private, None)
    unknown = view.pop("unknown_identifiers", None) or {}
    view["unknown_identifier_count"] = sum(len(ids) for ids in unknown.values()
                                           if isinstance(ids, list))
    view["job_id"] = job_id
    view["dead_letter"] = None if entry is None else {
        "reason": entry["reason"], "dead_at": entry["dead_at"],
        "last_error": entry.get("last_error"), "summary": _summary(entry)}
    if not view.get("attempts") and entry is not None:
        view["attempts"] = entry.get("attempts", [])
    return view


def _summary(entry: dict[str, Any]) -> str:
    try:
        return Job.from_dict(entry["job"]).summary()
    except (KeyError, TypeError, ValueError):  # a foreign job: say only what is safe
        return f"job={entry['job'].get('job_id')}"


def targets(stores: Stores, filters: Filters, job_id: str | None,
            as_of: float | None = None) -> list[dict[str, Any]]:
    """The dead letters a replay / purge acts on: one job, or all that match. `as_of`:
    the time the confirmation page was shown; a letter that died after it (so was not
    counted there) is left alone."""
    if job_id:
        entry = stores.dead.get(job_id)
        return [] if entry is None else [entry]
    return [entry for entry in matching(stores, filters, as_of)
            if as_of is None or entry["dead_at"] <= as_of]


def replay(stores: Stores, entries: list[dict[str, Any]]) -> int:
    return sum(1 for entry in entries if stores.dead.replay(entry))


def purge(stores: Stores, entries: list[dict[str, Any]]) -> int:
    return stores.dead.purge(entries)
