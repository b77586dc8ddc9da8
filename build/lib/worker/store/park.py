"""The park: failed sends waiting out their backoff, in Redis, not in worker memory.

Owner of the `retries` sorted set: job id → due time (ms). A retry is parked by the
record script that logs the failure (claims.py); `move_due` (lua/move_due.lua) puts due
jobs back at the head of their waiting list, keeping their priority. Any number of
movers on any number of hosts can run at once: each job is moved exactly once, and a
mover that dies mid-way loses nothing.
"""

from __future__ import annotations

from pathlib import Path

import redis

from producers.keys import Keys
from producers.outcomes import Status
from producers.scripts import Script

_LUA = Path(__file__).with_name("lua")
MOVE_DUE = Script(_LUA / "move_due.lua", Status, includes=[_LUA / "records.lua"])

#: Jobs moved per script call (one call holds Redis about a millisecond).
MOVE_BATCH = 500


class Park:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def move_due(self, now: float | None = None) -> int:
        """Move every due job back to its waiting list; how many were moved."""
        moved_total = 0
        while True:
            moved = int(MOVE_DUE(self._redis, [self._keys.retries],
                                 ["" if now is None else int(now * 1000), MOVE_BATCH,
                                  self._keys.prefix]))
            moved_total += moved
            if moved < MOVE_BATCH:
                return moved_total

    def size(self) -> int:
        return int(self._redis.zcard(self._keys.retries))

    def next_due(self) -> float | None:
        first = self._redis.zrange(self._keys.retries, 0, 0, withscores=True)
        return first[0][1] / 1000 if first else None
