"""One read of the whole system's state, for `notify-relay stats` and the metrics exporter.

Reads only; every number comes from the key family's owner (queue: kombu's list, retries:
RetryPark, dead letters: DeadLetterStore, circuit: Circuit, counters: metrics.py,
workers: health.py, limiter: RateLimiter.snapshot() when the limiter provides it).
"""

from __future__ import annotations

import time
from typing import Any

import redis

from producers.keys import Keys
from producers.settings import Settings
from worker import metrics
from worker.circuit import Circuit
from worker.deadletters import DeadLetterStore
from worker.health import live_workers
from worker.retries import RetryPark


def collect(settings: Settings, client: redis.Redis, now: float | None = None, *,
            dead_by_reason: bool = True) -> dict[str, Any]:
    """Everything `stats` shows. `dead_by_reason=False` skips the one costly read."""
    now = time.time() if now is None else now
    keys = Keys(settings.key_prefix)
    dead = DeadLetterStore(client, keys, max_count=settings.dead_max, ttl_s=settings.dead_ttl_s)
    return {
        "time": now,
        "queue": {"name": settings.queue, **queued_jobs(client, keys.queue(settings.queue))},
        "retries": _retries(RetryPark(client, keys, settings.queue), now),
        "dead_letters": {"total": dead.count(),
                         "by_reason": dead.count_by_reason() if dead_by_reason else None},
        "last_minute": metrics.recent_sends(client, keys, now),
        "circuit": circuit_view(Circuit(client, keys, settings.circuit_probe_interval_s).state(),
                                now),
        "limiter": limiter_state(settings, client),
        "workers": {node: round(age, 1) for node, age in live_workers(client, keys, now).items()},
        "totals": metrics.read_counters(client, keys),
    }


#: Up to this many messages the queue's jobs are counted exactly; past it, estimated.
EXACT_UP_TO = 2000
#: Messages read at each end of a longer queue for the estimate.
SAMPLE = 500

# KEYS: queue. ARGV: exact limit, sample size. Returns {jobs, messages, estimated 0/1}.
# A message's job count is its `notify_jobs` field (producers/message.py; 1 if absent).
_QUEUED_JOBS = """
local function jobs(items)
  local total = 0
  for _, message in ipairs(items) do
    total = total + (tonumber(string.match(message, '"notify_jobs":%s*(%d+)')) or 1)
  end
  return total
end
local n = redis.call('LLEN', KEYS[1])
local exact, sample = tonumber(ARGV[1]), tonumber(ARGV[2])
if n <= exact then return {jobs(redis.call('LRANGE', KEYS[1], 0, -1)), n, 0} end
local seen = jobs(redis.call('LRANGE', KEYS[1], 0, sample - 1))
  + jobs(redis.call('LRANGE', KEYS[1], -sample, -1))
return {math.floor(seen * n / (2 * sample) + 0.5), n, 1}
"""


def queued_jobs(client: redis.Redis, queue_key: str) -> dict[str, Any]:
    """Jobs waiting in the queue (`depth`), and the messages carrying them.

    `enqueue_many` packs several jobs into one message, so the list's length is not
    the number of jobs. A long queue is estimated from both ends (`estimated: true`)
    rather than read whole: one read must not hold Redis for long.
    """
    jobs, messages, estimated = client.eval(_QUEUED_JOBS, 1, queue_key, EXACT_UP_TO, SAMPLE)
    return {"depth": int(jobs), "messages": int(messages), "estimated": bool(estimated)}


def _retries(park: RetryPark, now: float) -> dict[str, Any]:
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


def limiter_state(settings: Settings, client: redis.Redis) -> list[dict[str, Any]] | None:
    """`RateLimiter.snapshot()` (worker/ratelimit.py), or None when it cannot be read.

    The limiter's keys are named after a hash of the API token, so without
    PUSHWOOSH_API_TOKEN there is no state to find.
    """
    from worker import ratelimit

    limiter_cls: Any = getattr(ratelimit, "RateLimiter", None)
    if not settings.api_token or not hasattr(limiter_cls, "snapshot"):
        return None
    if not hasattr(limiter_cls, "from_settings"):
        return None
    limiter = limiter_cls.from_settings(client, Keys(settings.key_prefix), settings)
    return list(limiter.snapshot())
