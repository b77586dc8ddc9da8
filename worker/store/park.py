"""The park: delayed sends wait in Redis, not in worker memory nor in ETA messages.

Owner of the `retries` sorted set (a retry after a failed send, or a send deferred by the
limiter, the circuit or another worker's lease). A member is a ready-built Celery message and its
score the due time (ms). `move_due` moves due members to the queue list in one Lua
script (move_due.lua), so any number of movers on any number of hosts can run at once: each member
is moved exactly once, and a mover that dies mid-way loses nothing.
"""

from __future__ import annotations

from pathlib import Path

import redis

from producers.job import Job
from producers.keys import Keys
from producers.message import task_message
from producers.scripts import Script

MOVE_DUE = Script(Path(__file__).with_name("lua") / "move_due.lua")


class Park:
    def __init__(self, client: redis.Redis, keys: Keys, queue: str) -> None:
        self._redis = client
        self._key = keys.retries
        self._queue = queue
        self._queue_key = keys.queue(queue)

    def park(self, pipe: redis.client.Pipeline, job: Job, due_at: float) -> str:
        """Queue on `pipe`: send `job` again at `due_at` (epoch seconds); the message."""
        message = task_message(job, self._queue)
        pipe.zadd(self._key, {message: int(due_at * 1000)})
        return message

    def move_due(self, now: float, batch: int = 500) -> int:
        """Move every due job back to the queue; return how many were moved."""
        moved_total = 0
        while True:
            moved = int(MOVE_DUE(self._redis, [self._key, self._queue_key],
                                 [int(now * 1000), batch]))
            moved_total += moved
            if moved < batch:
                return moved_total

    def size(self) -> int:
        return int(self._redis.zcard(self._key))

    def next_due(self) -> float | None:
        first = self._redis.zrange(self._key, 0, 0, withscores=True)
        return first[0][1] / 1000 if first else None
