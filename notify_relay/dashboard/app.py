"""The dashboard as an ASGI app, mounted at /ui by the API's app (notify_relay/api/app.py).

`create_dashboard(settings, secret)` builds it once per server process, or returns None
when no login is configured (and not local): then `/ui` is not mounted at all. The `Guard`
middleware lets nobody further without the login (401 with a Basic challenge; 403 for a
non-loopback client in local mode), names the user for the access log (`key=ui:<user>`;
never the Authorization header), and adds the headers every page needs: no caching, no
framing, a Content-Security-Policy that allows our own stylesheet and nothing else
(no script runs on any page; the plot is inline SVG).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2
import redis
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notify_relay.dashboard.auth import REALM, Gate
from notify_relay.dashboard.routes import PREFIX, ROUTES
from producers.connection import redis_client
from producers.settings import Settings
from worker.store import Stores

HERE = Path(__file__).resolve().parent
#: A dashboard read waits this long for Redis before the page says it is unavailable.
REDIS_TIMEOUT_S = 3.0
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class Guard:
    """The login in front of every dashboard path (static files too)."""

    def __init__(self, app: ASGIApp, gate: Gate, templates: Jinja2Templates) -> None:
        self.app = app
        self.gate = gate
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        client = scope.get("client")
        user = self.gate.who(Headers(scope=scope).get("authorization"),
                             client[0] if client else None)
        if user is None:
            await self.refusal()(scope, receive, secured)
            return
        state = scope.setdefault("state", {})
        state["api_key"] = f"ui:{user}"  # what the access log shows (access.py)
        state["dashboard_user"] = user
        await self.app(scope, receive, secured)

    def refusal(self) -> Response:
        if self.gate.local:
            return HTMLResponse("<h1>403</h1><p>This dashboard (NOTIFY_DASHBOARD_LOCAL) "
                                "answers 127.0.0.1 only.</p>", 403)
        return HTMLResponse("<h1>401</h1><p>Log in with the dashboard's login "
                            "(NOTIFY_DASHBOARD_AUTH).</p>", 401,
                            headers={"WWW-Authenticate": REALM})


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(utc=_utc, clock=_clock, stat=_stat)
    return Jinja2Templates(env=env)


def create_dashboard(settings: Settings, fallback_secret: bytes) -> Starlette | None:
    gate = Gate.from_settings(settings, fallback_secret)
    if not gate.on:
        return None
    pages = templates()
    client = redis_client(settings, socket_timeout=REDIS_TIMEOUT_S,
                          socket_connect_timeout=REDIS_TIMEOUT_S)
    app = Starlette(
        routes=[*ROUTES, Mount("/static", StaticFiles(directory=HERE / "static"))],
        middleware=[Middleware(Guard, gate=gate, templates=pages)],  # type: ignore[arg-type]
        exception_handlers={redis.RedisError: _redis_down})  # type: ignore[dict-item]
    app.state.gate = gate
    app.state.templates = pages
    app.state.stores = Stores.build(settings, client)
    return app


async def _redis_down(request: Request, exc: Exception) -> Response:
    pages: Jinja2Templates = request.app.state.templates
    return pages.TemplateResponse(request, "message.html", {
        "prefix": PREFIX, "page": "", "user": request.state.dashboard_user,
        "control": False, "heading": "Redis is unavailable",
        "message": "The dashboard could not read Redis; this page shows nothing until it "
                   "answers again.", "back": None}, status_code=503)


def _utc(epoch_s: Any) -> str:
    if epoch_s in (None, ""):
        return "–"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(epoch_s)))


def _clock(epoch_s: Any) -> str:
    return time.strftime("%H:%M", time.gmtime(float(epoch_s)))


def _stat(value: Any) -> str:
    """A number as the overview shows it (and its browser test reads it back)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
