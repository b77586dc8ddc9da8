"""The watchdog: finds jobs handed to a worker whose message was lost, and puts them back.

Why it exists: kombu's Redis transport takes a message with BRPOP and only then, in a
second command, records it as unacknowledged. A worker killed (or a Redis that dies)
between the two loses the message, and Celery never sees it again (celery/kombu#305,
celery/celery#4354). The fault-injection suite lost about one job in 500 that way under
repeated SIGKILLs.

Owner of the `watch` sorted set: job id → when to look at it if nothing happens (ms).
The dispatch script adds an entry for every job it hands out (its slot + twice the
visibility timeout: by then kombu has put back any message whose worker died); a claim
moves it to its lease's end + the same grace; the script that records the job removes
it. A due entry whose job is still unclaimed means its message is gone; one still
claimed means its holder died and no copy of the message is left to take it over. Either
way the job goes back to the head of its waiting list with a new dispatch number
(lua/watch_check.lua; a holder's send is logged as ambiguous, "worker lost"), so a copy
of the old message that turns up after all cannot claim it. Each look is O(1) per job:
nothing here walks a queue or compares message bytes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import redis

from producers.keys import Keys
from producers.outcomes import Status
from producers.scripts import Script

_LUA = Path(__file__).with_name("lua")
CHECK = Script(_LUA / "watch_check.lua", Status, includes=[_LUA / "records.lua"])

log = logging.getLogger("notify_relay.watchdog")

#: Jobs looked at per pass: bounds the time one pass holds Redis.
BATCH = 500


class Watchdog:
    def __init__(self, client: redis.Redis, keys: Keys, grace_s: float) -> None:
        self._redis = client
        self._keys = keys
        self._grace_ms = int(grace_s * 1000)

    def check(self, now: float | None = None) -> tuple[int, int]:
        """Look at every overdue entry (at most BATCH); (looked at, put back)."""
        looked, back = CHECK(self._redis, [self._keys.watch],
                             ["" if now is None else int(now * 1000), BATCH, self._keys.prefix,
                              self._grace_ms])
        if int(back):
            log.warning("watchdog: %d job(s) whose message was lost put back to wait", back)
        return int(looked), int(back)

    def size(self) -> int:
        """Jobs handed out to workers and not recorded yet."""
        return int(self._redis.zcard(self._keys.watch))
