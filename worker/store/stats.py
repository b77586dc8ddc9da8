"""One read of the whole system's state, for `notify-relay stats` and the metrics exporter.

Reads only; every number comes from the key family's owner (waiting: waiting.py, handed
out: watchdog.py, queue messages: kombu's list, park: park.py, dead letters:
deadletters.py, circuit: circuit.py, counters: metrics.py, workers: heartbeat.py, budget:
limiter.py, webhooks: webhooks.py, unknown identifiers: unknown.py). Its cost is per
application waiting, never per job: a backlog of any size reads as fast as an empty one.
"""

from __future__ import annotations

import time
from typing import Any

from producers.keys import app_scope
from worker.store import Stores, metrics
from worker.store.heartbeat import live_workers
from worker.store.park import Park

#: Applications listed by `stats`, most jobs waiting first.
TOP_APPLICATIONS = 10


def collect(stores: Stores, now: float | None = None, *,
            dead_by_reason: bool = True) -> dict[str, Any]:
    """Everything `stats` shows. `dead_by_reason=False` skips the one costly read."""
    now = time.time() if now is None else now
    settings, client, keys = stores.settings, stores.redis, stores.keys
    backlog = stores.waiting.backlog()
    totals = metrics.read_counters(client, keys)
    return {
        "time": now,
        "waiting": waiting_view(backlog, now),
        "queue": {"name": settings.queue, "depth": stores.watchdog.size(),
                  "messages": int(client.llen(keys.queue(settings.queue)))},
        "retries": _retries(stores.park, now),
        "dead_letters": {"total": stores.dead.count(),
                         "by_reason": stores.dead.count_by_reason() if dead_by_reason else None},
        "last_minute": metrics.recent_sends(client, keys, now),
        "sends_per_minute": metrics.sends_per_minute(client, keys, now),
        "share_last_minute": stores.waiting.shares(now),
        "circuit": circuit_view(stores.circuit.state(), now),
        # The limiter's keys are named after a hash of the API token: without
        # PUSHWOOSH_API_TOKEN there is no state to find.
        "limiter": (stores.budget.snapshot(_codes(backlog), now) if settings.api_token
                    else None),
        "workers": {node: round(age, 1) for node, age in live_workers(client, keys).items()},
        "totals": totals,
        "messages": messages_view(totals),
        "webhooks": webhooks_view(stores, totals, now),
        "unknown_identifiers": {"jobs_kept": stores.unknown.count(),
                                "reported": int(totals.get("unknown_identifiers", 0))},
    }


def webhooks_view(stores: Stores, totals: dict[str, float], now: float) -> dict[str, Any]:
    """The outbox, its dead letters, the gone URLs, and deliveries by result (counters)."""
    view = stores.webhooks.snapshot(now)
    view["deliveries"] = {field.partition(":")[2]: int(value)
                          for field, value in sorted(totals.items())
                          if field.startswith("webhooks:")}
    return view


def messages_view(totals: dict[str, float]) -> dict[str, int]:
    """The `deliver` messages workers took and how they ended: Flower's worker counters.

    Flower counts tasks, and a task is one message of up to NOTIFY_BATCH_SIZE jobs:
    `taken` is its Processed, `failed` its Failed (a job of the message died), `retried`
    (some wait again, none died), `succeeded`, `rejected` (given back, taken again later).
    `jobs` is what those messages carried; the other totals count jobs.
    """
    view = {"taken": int(totals.get("messages", 0)), "jobs": int(totals.get("message_jobs", 0))}
    for state in ("succeeded", "failed", "retried", "rejected"):
        view[state] = int(totals.get(f"message_states:{state}", 0))
    return view


def waiting_view(backlog: dict[str, list[dict[str, Any]]], now: float) -> dict[str, Any]:
    """Jobs waiting: in all, per priority (with the oldest's age), top applications."""
    by_priority = {}
    for priority, rows in backlog.items():
        oldest = [r["oldest_enqueued_at"] for r in rows if r["oldest_enqueued_at"]]
        by_priority[priority] = {
            "jobs": sum(r["waiting"] for r in rows),
            "oldest_age_s": round(max(0.0, now - min(oldest)), 1) if oldest else None}
    apps = [{"application": r["application"], "priority": priority, "waiting": r["waiting"]}
            for priority, rows in backlog.items() for r in rows]
    apps.sort(key=lambda r: -r["waiting"])
    return {"total": sum(p["jobs"] for p in by_priority.values()), "by_priority": by_priority,
            "top_applications": apps[:TOP_APPLICATIONS], "applications": len(apps)}


def _codes(backlog: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return {app_scope(r["application"]): r["application"]
            for rows in backlog.values() for r in rows}


def _retries(park: Park, now: float) -> dict[str, Any]:
    next_due = park.next_due()
    return {"parked": park.size(),
            "next_due_in_s": None if next_due is None else round(max(0.0, next_due - now), 1)}


def circuit_view(state: dict[str, str], now: float) -> dict[str, Any]:
    """The circuit hash (ms timestamps) as an operator reads it."""
    if not state.get("probe_at"):
        return {"state": "closed"}
    opened_ms = float(state.get("opened_at") or state["probe_at"])
    return {
        "state": "open",
        "open_for_s": round(max(0.0, now - opened_ms / 1000), 1),
        "next_probe_in_s": round(max(0.0, float(state["probe_at"]) / 1000 - now), 1),
        "reason": state.get("reason", ""),
    }
