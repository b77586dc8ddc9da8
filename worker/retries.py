"""The retry park: delayed sends wait in Redis, not in worker memory nor in ETA messages.

Owner of the `retries` sorted set. A member is a ready-built Celery message and its
score the due time (ms). `move_due` moves due members to the queue list in one Lua
script, so any number of movers on any number of hosts can run at once: each member
is moved exactly once, and a mover that dies mid-way loses nothing.
"""

from __future__ import annotations

import redis

from producers.job import Job
from producers.keys import Keys
from producers.message import task_message

# KEYS: retries zset, queue list. ARGV: now ms, batch size. Returns how many moved.
_MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, message in ipairs(due) do
  -- RPUSH: workers BRPOP from the right, so a due job is next, not behind the backlog
  -- (its rate-limit slot is reserved for about now).
  redis.call('RPUSH', KEYS[2], message)
  redis.call('ZREM', KEYS[1], message)
end
return #due
"""


class RetryPark:
    def __init__(self, client: redis.Redis, keys: Keys, queue: str) -> None:
        self._redis = client
        self._key = keys.retries
        self._queue = queue
        self._queue_key = keys.queue(queue)
        self._move = client.register_script(_MOVE_DUE)

    def park(self, pipe: redis.client.Pipeline, job: Job, due_at: float) -> str:
        """Queue on `pipe`: send `job` again at `due_at` (epoch seconds); the message."""
        message = task_message(job, self._queue)
        pipe.zadd(self._key, {message: int(due_at * 1000)})
        return message

    def move_due(self, now: float, batch: int = 500) -> int:
        """Move every due job back to the queue; return how many were moved."""
        moved_total = 0
        while True:
            moved = int(self._move(keys=[self._key, self._queue_key],
                                   args=[int(now * 1000), batch]))
            moved_total += moved
            if moved < batch:
                return moved_total

    def size(self) -> int:
        return int(self._redis.zcard(self._key))

    def next_due(self) -> float | None:
        first = self._redis.zrange(self._key, 0, 0, withscores=True)
        return first[0][1] / 1000 if first else None
