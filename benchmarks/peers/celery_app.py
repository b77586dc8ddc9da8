"""Plain Celery: a default app on Redis and one task that POSTs its argument.

    celery -A benchmarks.peers.celery_app worker                       # prefork, 1 per CPU
    celery -A benchmarks.peers.celery_app worker --pool threads --concurrency 64
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from benchmarks.peers import http

TASK_NAME = "bench.post"


def make_app(redis_url: str) -> Celery:
    app = Celery("bench_peer", broker=redis_url)
    app.conf.task_ignore_result = True  # no result backend configured: nothing to store

    @app.task(name=TASK_NAME)
    def post(body: dict[str, Any]) -> None:
        http.post(body)

    return app


app = make_app(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:0/0"))
