"""Small helpers for integration tests: example requests and reading Redis by type."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str = "transactional", application: str | None = None) -> dict[str, Any]:
    request = json.loads((EXAMPLES / f"{name}.json").read_text())
    if application:
        kind = next(iter(request))
        request[kind]["application"] = application
    return copy.deepcopy(request)


def posts_for(received: list[dict[str, Any]], application: str) -> list[dict[str, Any]]:
    """The emulator's records of notify POSTs for one application."""
    out = []
    for record in received:
        body = record.get("body")
        if isinstance(body, dict):
            kind = body.get("segment") or body.get("transactional") or {}
            if kind.get("application") == application:
                out.append(record)
    return out


def handed_out(stores: Any, now: float | None = None) -> list[Any]:
    """Run one dispatch and take every message it queued: their items, in queue order.

    For store tests that play the worker's part without Celery (the queue is emptied)."""
    stores.waiting.dispatch(now)
    return take_items(stores)


def take_items(stores: Any) -> list[Any]:
    """Pop every message from the Celery queue; the items they carry, oldest first."""
    from worker.store.claims import Item

    key = stores.keys.queue(stores.settings.queue)
    messages = stores.redis.lrange(key, 0, -1)
    stores.redis.delete(key)
    items = []
    for message in reversed(messages):  # LPUSHed: the oldest is last
        [[batch], _kwargs, _embed] = json.loads(json.loads(message)["body"])
        items += [Item.parse(value) for value in batch]
    return items
