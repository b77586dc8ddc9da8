"""The ASGI application: `create_app(settings)`, what `notify-relay api` serves.

Built once per server process (uvicorn calls `create_app()` in each of `--workers N`,
reading the settings from the environment). Per process: one `AsyncProducer` on one
asyncio Redis pool (made at start-up, closed at shutdown), the keyring, the OpenAPI
document rendered once, the request counters, and the dashboard at /ui
(notify_relay/dashboard/: its own login, its own sync Redis client, read in threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import secrets
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from notify_relay.api.access import AccessLog
from notify_relay.api.auth import Keyring
from notify_relay.api.errors import HANDLERS
from notify_relay.api.openapi import document
from notify_relay.api.routes import ROUTES
from notify_relay.dashboard.app import create_dashboard
from producers.async_producer import AsyncProducer
from producers.connection import async_redis_client, redis_client
from producers.keys import Keys
from producers.settings import Settings
from worker.store.metrics import Metrics

#: A call waits this long for Redis before it answers 503 (connect, and each reply).
REDIS_TIMEOUT_S = 3.0
#: Redis connections per process; a request beyond them waits for one (up to the timeout).
REDIS_POOL = 64
#: Request counters are added up in memory and written this often.
METRICS_FLUSH_S = 1.0


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or Settings.from_env(os.environ)
    metrics = Metrics(redis_client(settings, socket_timeout=REDIS_TIMEOUT_S,
                                   socket_connect_timeout=REDIS_TIMEOUT_S),
                      Keys(settings.key_prefix), flush_every_s=METRICS_FLUSH_S)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = async_redis_client(settings, max_connections=REDIS_POOL,
                                    socket_timeout=REDIS_TIMEOUT_S,
                                    socket_connect_timeout=REDIS_TIMEOUT_S)
        app.state.producer = AsyncProducer(settings=settings, client=client)
        # What start-up made (modules, schemas, the document) lives as long as the process:
        # out of the collector's sight, a full collection scans only what requests make
        # (it scanned the whole heap, tens of ms inside one request).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.producer.aclose()
            await asyncio.to_thread(metrics.flush)  # blocking I/O: not on the loop
            if dashboard is not None:
                dashboard.state.stores.redis.close()

    # The dashboard (/ui), when a login (or local mode) is configured. Its CSRF key is
    # NOTIFY_DASHBOARD_SECRET, which `notify-relay api` sets for all its workers; a random
    # one per process otherwise (an app built by a test).
    dashboard = create_dashboard(settings, secrets.token_bytes(32))
    routes = [*ROUTES, *([Mount("/ui", app=dashboard)] if dashboard else [])]
    app = Starlette(routes=routes, exception_handlers=HANDLERS,  # type: ignore[arg-type]
                    lifespan=lifespan)
    app.state.keyring = Keyring.from_settings(settings)
    app.state.openapi = json.dumps(document(), separators=(",", ":")).encode()
    return AccessLog(app, metrics)
