"""The one place a Redis client is made from `REDIS_URL`.

Every component (producers, the worker's stores, the scheduler, the CLI, the exporter,
the health check) asks here, so how the URL is understood (plain, TLS, and any option
added later) is decided once. Callers pass only what differs for them: timeouts, pool
size, a retry policy.
"""

from __future__ import annotations

from typing import Any

import redis

from producers.settings import Settings


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A client for `settings.redis_url`; `options` go to redis-py (socket_timeout, ...)."""
    return redis.Redis.from_url(settings.redis_url, **options)
