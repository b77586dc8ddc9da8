"""The watchdog: finds jobs whose message vanished, and publishes it again.

Why it exists: kombu's Redis transport takes a message with BRPOP and only then, in a
second command, records it as unacknowledged. A worker killed (or a Redis that dies)
between the two loses the message, and Celery never sees it again (celery/kombu#305,
celery/celery#4354). The fault-injection suite lost about one job in 500 that way
under repeated SIGKILLs.

Owner of the `watch` sorted set (job id → when to look next, ms) and the
`watch:messages` hash (job id → the job's latest message). `Producer.enqueue` adds a
job's first entry in its enqueue script; the worker replaces the message whenever it
parks the job and removes both when the job is final. A batch message from
`enqueue_many` is watched as a whole, under `batch:<task id>`, until the batch task has
taken every job in it to a recorded state (final, or parked with a message of its own).

A check is one script per entry: a job that is final is forgotten; one being sent under
a live lease is looked at again when the lease ends; otherwise its message must be in
the queue, in kombu's unacked hash, or in the retry park. If it is nowhere, the
watchdog pushes it again. A copy that turns out not to have been lost is harmless: the
claim (worker/store/claims.py) lets only one copy send.
"""

from __future__ import annotations

import enum
import logging
from pathlib import Path

import redis

from producers.keys import Keys
from producers.message import batch_watch_id
from producers.outcomes import Status
from producers.scripts import Script, execute

#: How a batch message's entry is named (producers/message.py).
BATCH_PREFIX = batch_watch_id("")

log = logging.getLogger("notify_relay.watchdog")

#: Jobs looked at per pass: bounds the time one pass holds Redis.
BATCH = 200
#: A message still queued is looked at again after grace x (its distance from the
#: consuming end / this): deep in a backlog it will not be taken soon.
QUEUE_DEPTH_PER_GRACE = 100

class WatchResult(enum.StrEnum):
    """What one look at a watched entry found (watch_check.lua)."""

    DONE = "done"  # final (or gone): forgotten
    LEASED = "leased"  # being sent under a live lease: look again when it ends
    PRESENT = "present"  # its message is queued, unacknowledged or parked
    REPUBLISHED = "republished"  # its message was nowhere: pushed again


CHECK = Script(Path(__file__).with_name("lua") / "watch_check.lua", Status, WatchResult)


class Watchdog:
    def __init__(self, client: redis.Redis, keys: Keys, queue: str, grace_s: float) -> None:
        self._redis = client
        self._keys = keys
        self._queue_key = keys.queue(queue)
        self._grace_ms = int(grace_s * 1000)

    def track(self, pipe: redis.client.Pipeline, job_id: str, message: str,
              check_at: float) -> None:
        """Queue on `pipe`: `message` is now the job's live message; look at `check_at`."""
        pipe.hset(self._keys.watch_messages, job_id, message)
        pipe.zadd(self._keys.watch, {job_id: int(check_at * 1000) + self._grace_ms})

    def untrack(self, pipe: redis.client.Pipeline, job_id: str) -> None:
        """Queue on `pipe`: the job is final (or the batch done); nothing to watch."""
        pipe.zrem(self._keys.watch, job_id)
        pipe.hdel(self._keys.watch_messages, job_id)

    def check(self, now: float) -> dict[str, int]:
        """Look at every job due for a look (at most BATCH); counts per `WatchResult`."""
        now_ms = int(now * 1000)
        due = self._redis.zrangebyscore(self._keys.watch, "-inf", now_ms, start=0, num=BATCH)
        pipe = self._redis.pipeline(transaction=False)
        for raw in due:
            job_id = raw.decode()
            batch = "1" if job_id.startswith(BATCH_PREFIX) else ""
            keys = [self._keys.watch, self._keys.watch_messages, self._keys.outcome(job_id),
                    self._queue_key, self._keys.unacked, self._keys.retries]
            CHECK.queue(pipe, keys, [job_id, now_ms, self._grace_ms, batch,
                                     QUEUE_DEPTH_PER_GRACE])
        counts: dict[str, int] = {}
        for found in execute(pipe) if due else []:
            name = found.decode()
            counts[name] = counts.get(name, 0) + 1
        if counts.get(WatchResult.REPUBLISHED):
            log.warning("watchdog: published %d lost job message(s) again",
                        counts[WatchResult.REPUBLISHED])
        return counts

    def size(self) -> int:
        return int(self._redis.zcard(self._keys.watch))

