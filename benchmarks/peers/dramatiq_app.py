"""Plain Dramatiq: the default Redis broker and one actor that POSTs its argument.

    dramatiq benchmarks.peers.dramatiq_app --processes 2 --threads 8
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks.peers import http

ACTOR_NAME = "post"


def _post(body: dict[str, Any]) -> None:
    http.post(body)


def make_actor(redis_url: str) -> dramatiq.Actor[..., None]:
    """The actor, declared on its own broker (the harness sends through this too)."""
    broker = RedisBroker(url=redis_url)
    return dramatiq.actor(actor_name=ACTOR_NAME, max_retries=0, broker=broker)(_post)


post = make_actor(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:0/0"))
dramatiq.set_broker(post.broker)
