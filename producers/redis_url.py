"""How `REDIS_URL` is understood: one Redis node, or a Redis behind Sentinel.

The one place that reads the URL's form. `producers.connection` makes clients from what it
says, `worker/celery.py` hands kombu the same URL, `producers.redis_errors` names the
endpoint in messages from it, and the settings check refuses what it refuses.

    redis://[:password@]host:6379/0              one node, plain TCP
    rediss://:password@host:6380/0?ssl_...       one node, TLS
    sentinel://[:password@]h1:26379[/db];sentinel://h2:26379;...
                                                 Sentinel: the primary named by
                                                 NOTIFY_SENTINEL_MASTER, asked of these

The Sentinel form is kombu's spelling (its `sentinel://` transport reads it the same way):
sentinels separated by `;`, the password and the database number written once, in the first
URL (kombu reads them only there; a later URL naming different ones is refused rather than
ignored). The password is the Redis nodes' (`requirepass`, `masterauth`); the sentinels
themselves are asked without one. Query options are refused: kombu and redis-py would
read them differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

SENTINEL_SCHEME = "sentinel://"
DEFAULT_SENTINEL_PORT = 26379
_NODE = re.compile(r"^rediss?://")


class BadRedisUrl(ValueError):
    """Why a URL cannot be used: fixed text that never quotes the password."""


@dataclass(frozen=True)
class SentinelUrl:
    """A `sentinel://` REDIS_URL, parsed: where the sentinels are, and the primary's login."""

    sentinels: tuple[tuple[str, int], ...]
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def endpoint(self) -> str:
        """How messages name it: the sentinels and the database, never the password."""
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.sentinels)
        return f"sentinel {hosts}/{self.db}"

    def login(self) -> dict[str, str]:
        """username / password for the Redis nodes (redis-py's keyword arguments)."""
        given = {"username": self.username, "password": self.password}
        return {key: value for key, value in given.items() if value}


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def check_redis_url(raw: str) -> str:
    """`raw` if a client can use it; BadRedisUrl (or ValueError) saying why not."""
    if is_sentinel(raw):
        parse_sentinel_url(raw)
        return raw
    if not _NODE.match(raw):
        raise ValueError
    return raw


def parse_sentinel_url(raw: str) -> SentinelUrl:
    """The sentinels, database and login of a `sentinel://a:26379;sentinel://b:26379` URL."""
    parts = [part.strip() for part in raw.split(";") if part.strip()]
    nodes = [_sentinel_node(part, number) for number, part in enumerate(parts, start=1)]
    if not nodes:
        raise BadRedisUrl("expected sentinel://host:26379[;sentinel://host2:26379...]")
    first = nodes[0]
    for number, node in enumerate(nodes[1:], start=2):
        if node.db not in (None, first.db) or node.secret not in (None, first.secret):
            raise BadRedisUrl(f"sentinel URL {number} names another password or database "
                              "than the first: write them once, in the first URL (kombu "
                              "reads them only there)")
    return SentinelUrl(tuple((node.host, node.port) for node in nodes), first.db or 0,
                       first.secret[0] if first.secret else None,
                       first.secret[1] if first.secret else None)


@dataclass(frozen=True)
class _Node:
    host: str
    port: int
    db: int | None
    secret: tuple[str | None, str | None] | None = field(repr=False)


def _sentinel_node(part: str, number: int) -> _Node:
    if not part.startswith(SENTINEL_SCHEME):
        raise BadRedisUrl(f"sentinel URL {number} does not start with sentinel:// (every "
                          "sentinel is written sentinel://host:port, separated by ';')")
    try:
        parts = urlsplit(part)
        host, port = parts.hostname, parts.port or DEFAULT_SENTINEL_PORT
    except ValueError:
        raise BadRedisUrl(f"sentinel URL {number} has no valid host:port") from None
    if not host:
        raise BadRedisUrl(f"sentinel URL {number} names no host")
    if parts.query or parts.fragment:
        raise BadRedisUrl(f"sentinel URL {number} has options after '?' or '#': not "
                          "supported with Sentinel")
    return _Node(host, port, _db(parts.path, number), _secret(parts.username, parts.password))


def _db(path: str, number: int) -> int | None:
    text = path.strip("/")
    if not text:
        return None
    if not text.isdigit():
        raise BadRedisUrl(f"sentinel URL {number}: the database after '/' must be a number")
    return int(text)


def _secret(username: str | None, password: str | None) -> tuple[str | None, str | None] | None:
    if not username and not password:
        return None
    return (unquote(username) if username else None, unquote(password) if password else None)
