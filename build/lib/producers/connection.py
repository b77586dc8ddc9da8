"""The one place a Redis client is made from `REDIS_URL`, blocking or asyncio.

Every component (producers, the worker's stores, the scheduler, the CLI, the exporter,
the health check, the async producer and the HTTP API) asks here, so how the URL is
understood (plain, TLS, and any option added later) is decided once, for both kinds of
client. Callers pass only what differs for them: timeouts, pool size, a retry policy.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio

from producers.settings import Settings


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A client for `settings.redis_url`; `options` go to redis-py (socket_timeout, ...)."""
    return redis.Redis.from_url(settings.redis_url, **options)


def async_redis_client(settings: Settings, *, max_connections: int | None = None,
                       **options: Any) -> redis.asyncio.Redis:
    """An asyncio client for `settings.redis_url` (redis.asyncio), the same URL rules.

    `max_connections`: a pool that waits for a free connection (up to the socket timeout)
    instead of redis-py's default, which opens one per concurrent call without bound.
    """
    if max_connections is None:
        return redis.asyncio.Redis.from_url(settings.redis_url, **options)
    pool: redis.asyncio.ConnectionPool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=max_connections,
        timeout=options.get("socket_timeout", 20), **options)
    # types-redis 4.6 predates from_pool (redis-py 5.0.1+) and aclose (5.0.1+).
    return redis.asyncio.Redis.from_pool(pool)  # type: ignore[attr-defined,no-any-return]
