"""The one place a Redis client is made from `REDIS_URL`, blocking or asyncio.

Every component (producers, the worker's stores, the scheduler, the CLI, the exporter,
the health check, the async producer and the HTTP API) asks here, so how the URL is
understood (plain, TLS, Sentinel: `producers/redis_url.py`) is decided once, for both
kinds of client. Callers pass only what differs for them: timeouts, pool size, a retry
policy.

With a `sentinel://` URL a client is redis-py's `Sentinel(...).master_for(
NOTIFY_SENTINEL_MASTER)`: each new connection asks the sentinels where the primary is, and
a connection to a primary that died or was demoted (READONLY) is dropped, so the next
command (redis-py's retry, or the caller's) reaches the new primary without a restart.
Scripts then answer NOSCRIPT once on the new primary and are loaded again
(`producers/scripts.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from producers.redis_url import SentinelUrl, is_sentinel, parse_sentinel_url

if TYPE_CHECKING:
    from producers.settings import Settings

#: How long a sentinel may take to answer "where is the primary?" unless the caller says.
SENTINEL_TIMEOUT_S = 2.0
#: The options that also apply to the connections to the sentinels themselves.
_SENTINEL_OPTIONS = ("socket_timeout", "socket_connect_timeout", "socket_keepalive",
                     "socket_keepalive_options")


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A client for `settings.redis_url`; `options` go to redis-py (socket_timeout, ...)."""
    if is_sentinel(settings.redis_url):
        target = parse_sentinel_url(settings.redis_url)
        manager = redis.sentinel.Sentinel(list(target.sentinels),
                                          sentinel_kwargs=_sentinel_kwargs(options))
        return manager.master_for(settings.sentinel_master, **_node_options(target, options))
    return redis.Redis.from_url(settings.redis_url, **options)


def async_redis_client(settings: Settings, *, max_connections: int | None = None,
                       **options: Any) -> redis.asyncio.Redis:
    """An asyncio client for `settings.redis_url` (redis.asyncio), the same URL rules.

    `max_connections`: a pool that waits for a free connection (up to the socket timeout)
    instead of redis-py's default, which opens one per concurrent call without bound.
    """
    if is_sentinel(settings.redis_url):
        return _async_sentinel_client(settings, max_connections, options)
    if max_connections is None:
        return redis.asyncio.Redis.from_url(settings.redis_url, **options)
    pool: redis.asyncio.ConnectionPool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=max_connections,
        timeout=options.get("socket_timeout", 20), **options)
    # types-redis 4.6 predates from_pool (redis-py 5.0.1+) and aclose (5.0.1+).
    return redis.asyncio.Redis.from_pool(pool)  # type: ignore[attr-defined,no-any-return]


class _BlockingSentinelPool(redis.asyncio.sentinel.SentinelConnectionPool,
                            redis.asyncio.BlockingConnectionPool):
    """The primary's pool, waiting for a free connection like `BlockingConnectionPool`."""


def _async_sentinel_client(settings: Settings, max_connections: int | None,
                           options: dict[str, Any]) -> redis.asyncio.Redis:
    target = parse_sentinel_url(settings.redis_url)
    manager = redis.asyncio.sentinel.Sentinel(list(target.sentinels),
                                              sentinel_kwargs=_sentinel_kwargs(options))
    node = _node_options(target, options)
    if max_connections is None:
        return manager.master_for(settings.sentinel_master, **node)
    return manager.master_for(settings.sentinel_master,
                              connection_pool_class=_BlockingSentinelPool,
                              max_connections=max_connections,
                              timeout=options.get("socket_timeout", 20), **node)


def _sentinel_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """The caller's socket options, else `SENTINEL_TIMEOUT_S`: a sentinel that does not
    answer is passed over for the next one instead of holding the caller for ever."""
    given = {key: options[key] for key in _SENTINEL_OPTIONS if key in options}
    return {"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S,
            **given}


def _node_options(target: SentinelUrl, options: dict[str, Any]) -> dict[str, Any]:
    return {"db": target.db, **target.login(), **options}
