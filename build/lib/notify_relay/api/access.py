"""One log line and one counter per request, for every answer (errors and 500s included).

A plain ASGI middleware around the whole app (outside Starlette's error handling, so it
also sees the 500 that handling sends):

    request method=POST path=/v1/notifications status=202 duration_ms=1.4 key=orders

`key` is the API key's NAME (auth.py puts it in the request's state), `-` before
authentication; the key itself, the query string and the body are never logged. The
counter is `api_requests:<status>` in the fleet's Redis counters (worker/store/metrics.py:
every API process on every host adds to one total; `notify-relay metrics` exports it as
`notify_relay_api_requests_total{status="202"}`), added up in memory and written once a
second, so a request spends no Redis round trip on it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.logs import emit
from worker.store.metrics import Metrics

log = logging.getLogger("notify_relay.api")

#: The counter family in worker/store/metrics.py (exported by worker/exporter.py).
FAMILY = "api_requests"


class AccessLog:
    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts: the connection broke mid-way

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.record(scope, status, time.perf_counter() - started)

    def record(self, scope: Scope, status: int, duration_s: float) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        emit(log, logging.INFO, "request", method=scope["method"], path=scope["path"],
             status=status, duration_ms=round(duration_s * 1000, 2),
             key=state.get("api_key", "-"))
        if self.metrics is not None:
            self.metrics.count(FAMILY, str(status))
