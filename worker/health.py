"""`notify-relay health`: Redis answers, and (if asked) a worker's heartbeat is fresh.

The heartbeats are written by every worker (worker/store/heartbeat.py); this only reads.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass

from producers.connection import redis_client
from producers.keys import Keys
from producers.redis_errors import redacted_endpoint, translate_redis_errors
from producers.settings import Settings
from worker.store.heartbeat import STALE_AFTER_S, live_workers


@dataclass(frozen=True)
class Health:
    ok: bool
    line: str


def check(settings: Settings, *, require_worker: bool, node: str = "*",
          timeout_s: float = 2.0, now: float | None = None) -> Health:
    """Redis answers (and, if asked, a worker matching `node` beat recently).

    Redis not answering raises `producers.QueueUnavailable` (the CLI's one line, exit 3).
    """
    client = redis_client(settings, socket_timeout=timeout_s,
                                  socket_connect_timeout=timeout_s)
    try:
        with translate_redis_errors(redacted_endpoint(settings.redis_url)):
            started = time.perf_counter()
            client.ping()
            ping_ms = (time.perf_counter() - started) * 1000
            workers = live_workers(client, Keys(settings.key_prefix), now)
    finally:
        client.close()
    matching = sorted(name for name in workers if fnmatch.fnmatchcase(name, node))
    if require_worker and not matching:
        wanted = "" if node == "*" else f" matching {node!r}"
        return Health(False, f"unhealthy: no live worker{wanted} "
                             f"(none beat in the last {STALE_AFTER_S:g}s); redis ok")
    return Health(True, f"ok: redis answered in {ping_ms:.1f} ms; "
                        f"{len(matching)} live worker(s){_names(matching)}")


def _names(names: list[str], shown: int = 3) -> str:
    if not names:
        return ""
    more = f", +{len(names) - shown} more" if len(names) > shown else ""
    return ": " + ", ".join(names[:shown]) + more
