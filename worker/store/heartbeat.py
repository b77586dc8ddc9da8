"""Liveness: each worker writes a heartbeat to Redis; `notify-relay health` reads it.

Owner of `stats:workers` (zset: worker node name → last beat, ms; entries older than a day
are pruned on every beat, and the key expires a day after the last beat anywhere).

Why a heartbeat key rather than `celery inspect ping`: a ping is a broadcast and a wait
(a second or more, and a round trip through every worker), and answers "the control
thread is alive" only for workers that happen to listen. A Docker health check runs every
few seconds on every container; a ZSCORE is cheap, needs no Celery app, and the beat is
written by the worker's own Redis client, so a worker cut off from Redis goes stale too.

Beats are stamped, and read, on Redis's clock (TIME), like every other time the service
decides by: a host whose clock is 30 s behind would otherwise look dead to every other
host, and a dead one 30 s ahead alive for 30 s too long.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import redis

from producers.connection import redis_client
from producers.keys import Keys
from producers.settings import Settings

log = logging.getLogger("notify_relay.health")

BEAT_INTERVAL_S = 5.0
#: A beat that cannot be written within this is skipped (the next one comes soon).
REDIS_TIMEOUT_S = 5
#: A worker whose last beat is older than this is considered gone.
STALE_AFTER_S = 20.0
_PRUNE_AFTER_S = 86400


def workers_key(keys: Keys) -> str:
    return keys.stats("workers")


def redis_clock(client: redis.Redis) -> float:
    """Redis's own clock, epoch seconds (one TIME round trip)."""
    seconds, micros = client.time()
    return float(seconds) + micros / 1e6


def beat(client: redis.Redis, keys: Keys, node: str, now: float | None = None) -> None:
    """`node` beats at `now` (default: Redis's clock)."""
    now = redis_clock(client) if now is None else now
    key = workers_key(keys)
    pipe = client.pipeline(transaction=False)
    pipe.zadd(key, {node: int(now * 1000)})
    pipe.zremrangebyscore(key, "-inf", int((now - _PRUNE_AFTER_S) * 1000))
    pipe.expire(key, _PRUNE_AFTER_S)
    pipe.execute()


def live_workers(client: redis.Redis, keys: Keys, now: float | None = None,
                 stale_after_s: float = STALE_AFTER_S) -> dict[str, float]:
    """Node name → seconds since its last beat, for every worker beating recently (`now`
    default: Redis's clock)."""
    now = redis_clock(client) if now is None else now
    since = int((now - stale_after_s) * 1000)
    rows = client.zrangebyscore(workers_key(keys), since, "+inf", withscores=True)
    return {node.decode(): max(0.0, now - score / 1000) for node, score in rows}


class Heartbeat:
    """A daemon thread beating for `node` until stopped (then it removes the entry)."""

    def __init__(self, settings: Settings, node: str, interval_s: float = BEAT_INTERVAL_S):
        self._client = redis_client(settings, socket_timeout=REDIS_TIMEOUT_S)
        self._keys = Keys(settings.key_prefix)
        self._node = node
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-relay-heartbeat",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                beat(self._client, self._keys, self._node)
            except redis.RedisError as exc:
                log.warning("heartbeat not written: redis error: %s", exc)
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):  # a clean stop is not a dead worker
            self._client.zrem(workers_key(self._keys), self._node)
        self._client.close()
