"""The waiting lists: jobs ordered by priority and application until the budget lets them go.

Owner of `wait:<priority>:<scope>` (job ids, oldest first), `ring:<priority>` (the scopes
with jobs waiting, served in turn), `apps` (scope → application code), `sched` (the
dispatcher's turn positions and bulk counter), `wake` (a producer's nudge) and
`stats:share:<t>` (who got the slots). The enqueue script and the scripts that give a
job back push to the lists by the same rules (producers/keys.py).

`dispatch` is the scheduler's step, run in a loop by every worker (worker/scheduler.py):
one atomic script (lua/dispatch.lua) that moves into the Celery queue what the budget
lets start within `HORIZON_S`, by priority, then application in turn, as batch messages
of NOTIFY_BATCH_SIZE jobs. So the Celery queue holds about a second of sends at most,
urgent work waits at most that long behind a backlog of any size, and every cost here
is per job handed out or per application waiting, never per job waiting.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from producers.job import DELIVER_TASK_NAME, Priority
from producers.keys import Keys
from producers.outcomes import Status
from producers.scripts import Script
from producers.settings import Settings
from worker.store.limiter import LIMITER_NUMBERS, Budget
from worker.store.metrics import WINDOW_BUCKET_S, WINDOW_S, WINDOW_TTL_S, window_start

_LUA = Path(__file__).with_name("lua")
DISPATCH = Script(_LUA / "dispatch.lua", Status, Priority, numbers=LIMITER_NUMBERS,
                  includes=[_LUA / "records.lua", _LUA / "gcra.lua"])
WAITING = Script(_LUA / "waiting.lua", Priority, includes=[_LUA / "records.lua"])

#: Slots are handed out this far ahead: the Celery queue holds at most this much work,
#: and it bounds how long urgent work waits behind a backlog (with one send interval).
HORIZON_S = 0.25
#: Jobs one dispatch call hands out at most (it holds Redis for about a millisecond).
MOST_PER_CALL = 512
#: Jobs handed out and not claimed yet, at most: at least this ...
MIN_UNCLAIMED = 64
#: ... else what the budget lets start in this many horizons.
UNCLAIMED_HORIZONS = 4


@dataclass(frozen=True)
class Dispatched:
    jobs: int
    next_s: float | None  # when another call is worth making; None: only after a wake-up


class Waiting:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings,
                 budget: Budget) -> None:
        self._redis = client
        self._keys = keys
        self._settings = settings
        self._budget = budget
        self._origin = f"notify-relay-dispatcher@{socket.gethostname()}:{os.getpid()}"
        rate = budget.rate.per_second
        self._cap = max(MIN_UNCLAIMED, math.ceil(rate * HORIZON_S * UNCLAIMED_HORIZONS))
        share = settings.bulk_share
        self._bulk_every = round(1 / share) if share > 0 else 0

    def dispatch(self, now: float | None = None) -> Dispatched:
        keys = self._keys
        script_keys = [self._budget.token_key, keys.watch, keys.queue(self._settings.queue),
                       keys.circuit, keys.sched, *(keys.ring(p) for p in Priority),
                       self._budget.held_key]
        args = ["" if now is None else int(now * 1000), keys.prefix, self._budget.key_prefix,
                int(HORIZON_S * 1000), self._cap, MOST_PER_CALL, self._settings.batch_size,
                self._budget.rate.per_second, self._budget.rate.burst, self._bulk_every,
                int(self._settings.watchdog_grace_s * 1000),
                int(self._settings.circuit_probe_interval_s * 1000), uuid.uuid4().hex,
                self._settings.queue, self._origin, self._budget.limits_json,
                DELIVER_TASK_NAME, WINDOW_BUCKET_S * 1000, WINDOW_TTL_S * 1000]
        jobs, next_ms = DISPATCH(self._redis, script_keys, args)
        return Dispatched(int(jobs), None if int(next_ms) < 0 else int(next_ms) / 1000)

    def wait_for_work(self, timeout_s: float) -> None:
        """Block until a producer enqueues (or a job comes back), at most `timeout_s`."""
        self._redis.blpop([self._keys.wake], timeout=max(0.001, timeout_s))

    def backlog(self) -> dict[str, list[dict[str, Any]]]:
        """Per priority: each application with jobs waiting, how many, the oldest's age."""
        keys = self._keys
        reply = WAITING(self._redis, [*(keys.ring(p) for p in Priority), keys.apps],
                        [keys.prefix])
        out: dict[str, list[dict[str, Any]]] = {}
        at = 0
        for priority in Priority:
            count, at = int(reply[at]), at + 1
            rows = []
            for _ in range(count):
                scope, code, waiting, oldest = reply[at:at + 4]
                at += 4
                if not int(waiting):  # drained: leaves the turns at its next one
                    continue
                rows.append({"application": _text(code), "waiting": int(waiting),
                             "oldest_enqueued_at": float(oldest) if oldest else None})
            out[priority.value] = rows
        return out

    def shares(self, now: float) -> dict[str, int]:
        """Slots each application got in the last minute (by scope's code)."""
        buckets = WINDOW_S // WINDOW_BUCKET_S
        starts = [window_start(now) - i * WINDOW_BUCKET_S for i in range(buckets)]
        pipe = self._redis.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(self._keys.stats(f"share:{start}"))
        pipe.hgetall(self._keys.apps)
        *windows, apps = pipe.execute()
        totals: dict[str, int] = {}
        for window in windows:
            for scope, count in window.items():
                code = _text(apps.get(scope, scope))
                totals[code] = totals.get(code, 0) + int(count)
        return totals


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
