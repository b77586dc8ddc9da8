"""One read of the whole system's state, for `notify-relay stats` and the metrics exporter.

Reads only; every number comes from the key family's owner (queue: kombu's list, park:
park.py, dead letters: deadletters.py, circuit: circuit.py, counters: metrics.py,
workers: heartbeat.py, limiter: limiter.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import redis

from producers.scripts import Script
from worker.store import Stores, metrics
from worker.store.heartbeat import live_workers
from worker.store.park import Park


def collect(stores: Stores, now: float | None = None, *,
            dead_by_reason: bool = True) -> dict[str, Any]:
    """Everything `stats` shows. `dead_by_reason=False` skips the one costly read."""
    now = time.time() if now is None else now
    settings, client, keys = stores.settings, stores.redis, stores.keys
    return {
        "time": now,
        "queue": {"name": settings.queue, **queued_jobs(client, keys.queue(settings.queue))},
        "retries": _retries(stores.park, now),
        "dead_letters": {"total": stores.dead.count(),
                         "by_reason": stores.dead.count_by_reason() if dead_by_reason else None},
        "last_minute": metrics.recent_sends(client, keys, now),
        "circuit": circuit_view(stores.circuit.state(), now),
        # The limiter's keys are named after a hash of the API token: without
        # PUSHWOOSH_API_TOKEN there is no state to find.
        "limiter": stores.limiter.snapshot(now) if settings.api_token else None,
        "workers": {node: round(age, 1) for node, age in live_workers(client, keys, now).items()},
        "totals": metrics.read_counters(client, keys),
    }


#: Up to this many messages the queue's jobs are counted exactly; past it, estimated.
EXACT_UP_TO = 2000
#: Messages read at each end of a longer queue for the estimate.
SAMPLE = 500

QUEUED_JOBS = Script(Path(__file__).with_name("lua") / "queued_jobs.lua")


def queued_jobs(client: redis.Redis, queue_key: str) -> dict[str, Any]:
    """Jobs waiting in the queue (`depth`), and the messages carrying them.

    `enqueue_many` packs several jobs into one message, so the list's length is not
    the number of jobs. A long queue is estimated from both ends (`estimated: true`)
    rather than read whole: one read must not hold Redis for long.
    """
    jobs, messages, estimated = QUEUED_JOBS(client, [queue_key], [EXACT_UP_TO, SAMPLE])
    return {"depth": int(jobs), "messages": int(messages), "estimated": bool(estimated)}


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
