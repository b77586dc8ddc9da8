"""redis-py's errors as ours: one classification, used by every component.

`queue_error(exc, endpoint)` is the table below, first matching row wins (the code is
Redis's reply code, also found inside a script's error). `translate_redis_errors(endpoint)`
(a context manager and a decorator) and `raises_queue_errors` (for the methods of an object
with `.settings`: `Producer`, the async producer) apply it as `raise ours from theirs`.
`redacted_endpoint(url)` is how every message names Redis: host:port/db, no password.

| redis-py error (reply code)                                | ours             | retry after |
|------------------------------------------------------------|------------------|-------------|
| Authentication-, AuthorizationError, NoPermissionError     | SettingsError    | -           |
|   (WRONGPASS, NOAUTH, NOPERM): a login no retry can fix    |                  |             |
| OutOfMemoryError (OOM)                                     | QueueFull        | -           |
| BusyLoadingError (LOADING)                                 | QueueUnavailable | 5 s         |
| TimeoutError                                               | QueueUnavailable | 1 s         |
| MasterNotFoundError (the sentinels name no primary)        | QueueUnavailable | 1 s         |
| ConnectionError (refused, reset, name unknown, max clients) | QueueUnavailable | 1 s        |
| ReadOnlyError (READONLY)                                   | QueueUnavailable | 1 s         |
| MASTERDOWN, CLUSTERDOWN, TRYAGAIN, UNBLOCKED               | QueueUnavailable | 1 s         |
| NOREPLICAS, MISCONF (the primary refuses writes)           | QueueUnavailable | 1 s         |
| NoScriptError (NOSCRIPT)                                   | QueueUnavailable | 1 s         |
| any other RedisError (WRONGTYPE, a script error, ...)      | QueueError       | -           |

A wrong login is a setting, not an outage (CLI exit 2, not 3).
NOSCRIPT never gets here in practice: `producers.scripts` re-runs the script with EVAL;
one that escapes means the scripts were flushed between the two calls, and a retry loads
them again.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import redis.asyncio.sentinel
import redis.exceptions as rx
import redis.sentinel

from producers.exceptions import (
    RETRY_AFTER_S,
    NotifyRelayError,
    QueueError,
    QueueFull,
    QueueUnavailable,
    SettingsError,
    one_line,
)
from producers.redis_url import is_sentinel, parse_sentinel_url

__all__ = [
    "queue_error",
    "raises_queue_errors",
    "redacted_endpoint",
    "redis_error_line",
    "translate_redis_errors",
]

# types-redis 4.6 predates OutOfMemoryError (redis-py 4.6+ has it).
_OutOfMemoryError: type[rx.ResponseError] = rx.OutOfMemoryError  # type: ignore[attr-defined]

#: A restart with a large append-only file takes seconds to load.
LOADING_RETRY_AFTER_S = 5.0


def redacted_endpoint(url: str) -> str:
    """`host:port/db` of a redis:// or rediss:// URL, without user or password
    (`sentinel h1:26379,h2:26379/db` for a sentinel:// one)."""
    if is_sentinel(url):
        try:
            return parse_sentinel_url(url).endpoint()
        except ValueError:
            return "sentinel (REDIS_URL)"
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 6379
    except ValueError:  # a malformed port: still never show what came before the @
        return url.rpartition("@")[2].split("?")[0] or "redis"
    if ":" in host:
        host = f"[{host}]"  # IPv6
    db = parts.path.lstrip("/") or parse_qs(parts.query).get("db", ["0"])[0]
    return f"{host}:{port}/{db}"


@dataclass(frozen=True)
class _Row:
    kinds: tuple[type[Exception], ...]
    codes: frozenset[str]
    error: type[QueueError]
    what: str  # with {endpoint}
    todo: str
    retry_after_s: float | None = RETRY_AFTER_S


_RETRY = "retry in a moment"
_ROWS = (
    _Row((_OutOfMemoryError,), frozenset({"OOM"}), QueueFull,
         "redis at {endpoint} is full",
         "raise its maxmemory (or let the workers drain the queue), then retry", None),
    _Row((rx.BusyLoadingError,), frozenset({"LOADING"}), QueueUnavailable,
         "redis at {endpoint} is loading its data", "retry in a few seconds",
         LOADING_RETRY_AFTER_S),
    _Row((rx.TimeoutError,), frozenset(), QueueUnavailable,
         "redis at {endpoint} timed out",
         "retry later, with the same idempotency key (the write may have happened)"),
    # Before ConnectionError, its base: the sentinels answered, but name no primary.
    _Row((redis.sentinel.MasterNotFoundError, redis.asyncio.sentinel.MasterNotFoundError),
         frozenset(), QueueUnavailable, "redis at {endpoint} has no primary now",
         "retry in a few seconds with the same idempotency key (the sentinels are failing "
         "over, or too few of them agree: check them and NOTIFY_SENTINEL_MASTER)"),
    _Row((rx.ConnectionError,), frozenset(), QueueUnavailable,
         "redis at {endpoint} is unavailable", "start it or fix REDIS_URL, then retry"),
    _Row((rx.ReadOnlyError,), frozenset({"READONLY"}), QueueUnavailable,
         "redis at {endpoint} is a read-only replica",
         "point REDIS_URL at the primary (during a failover, " + _RETRY + ")"),
    _Row((rx.MasterDownError, rx.ClusterDownError, rx.TryAgainError),
         frozenset({"MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "UNBLOCKED"}), QueueUnavailable,
         "redis at {endpoint} is failing over", _RETRY),
    _Row((), frozenset({"NOREPLICAS", "MISCONF"}), QueueUnavailable,
         "redis at {endpoint} refuses writes", "see its log (replicas, disk), then retry"),
    _Row((rx.NoScriptError,), frozenset({"NOSCRIPT"}), QueueUnavailable,
         "redis at {endpoint} lost its scripts (restart or SCRIPT FLUSH)", _RETRY),
)
_LOGIN_REFUSED = (rx.AuthenticationError, rx.AuthorizationError, rx.NoPermissionError,
                  rx.AuthenticationWrongNumberOfArgsError)
#: A reply code at the start of the message, or after "-" where a script quotes it.
_REPLY_CODE = re.compile(r"(?:^|\s-)([A-Z]{3,})\b")


def queue_error(exc: rx.RedisError, endpoint: str) -> NotifyRelayError:
    """Our error for a redis-py error (the table in this module's docstring)."""
    why = _why(exc)
    if isinstance(exc, _LOGIN_REFUSED):
        return SettingsError(f"REDIS_URL: redis at {endpoint} refused the login ({why})",
                             todo="check the user, password and ACL in REDIS_URL")
    codes = set(_REPLY_CODE.findall(why))  # not in the quoted arguments of a pipeline note
    for row in _ROWS:
        if isinstance(exc, row.kinds) or codes & row.codes:
            return row.error(row.what.format(endpoint=endpoint), why, row.todo, endpoint,
                             row.retry_after_s)
    return QueueError(f"redis at {endpoint} refused a command", why,
                      "check that nothing else writes under NOTIFY_KEY_PREFIX; otherwise "
                      "it is a bug: report it", endpoint)


#: redis-py's note on a pipeline's failed command quotes its first arguments (a job's
#: message, with its targets): never in a line that reaches logs. A script's location
#: only says which line of our Lua ran into it. `__cause__` keeps both.
_PIPELINE_NOTE = re.compile(r"^Command # \d+ \(.*\) of pipeline caused error: ", re.S)
_SCRIPT_NOTE = re.compile(r"\.? script: \w+, on @user_script:\d+\.?$")


def _why(exc: BaseException) -> str:
    """redis-py's text for `exc`, on one line, without the quoted arguments."""
    text = _SCRIPT_NOTE.sub("", _PIPELINE_NOTE.sub("", str(exc)))
    text = " ".join(text.split()).rstrip(".")
    return text or type(exc).__name__


def redis_error_line(exc: rx.RedisError, redis_url: str, *, todo: str | None = None) -> str:
    """One line for a redis-py error, as the CLI words it (for the worker's log)."""
    return one_line(queue_error(exc, redacted_endpoint(redis_url)), todo=todo)


@contextlib.contextmanager
def translate_redis_errors(endpoint: str) -> Iterator[None]:
    """Re-raise redis-py errors inside as ours (`raise ours from theirs`); also a decorator."""
    try:
        yield
    except rx.RedisError as exc:
        raise queue_error(exc, endpoint) from exc


F = TypeVar("F", bound=Callable[..., Any])


def raises_queue_errors(method: F) -> F:
    """For a method of an object with `.settings`: redis-py errors leave it as ours.

    Works on plain and `async def` methods alike (the async producer's).
    """
    # The endpoint is only worked out on a failure: nothing is added to a call that works.
    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def async_translated(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except rx.RedisError as exc:
                raise queue_error(exc, redacted_endpoint(self.settings.redis_url)) from exc
        return async_translated  # type: ignore[return-value]

    @functools.wraps(method)
    def translated(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except rx.RedisError as exc:
            raise queue_error(exc, redacted_endpoint(self.settings.redis_url)) from exc
    return translated  # type: ignore[return-value]

