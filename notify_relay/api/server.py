"""Serving the app: `serve(settings, host, port, workers)`, what `notify-relay api` runs.

uvicorn, with httptools (HTTP/1.1 parser) and uvloop (event loop) when installed (both are
dependencies on Linux); `--workers N` is uvicorn's own supervisor: N processes on one
socket, each with its own event loop and Redis pool, a dead one restarted. SIGTERM:
stop accepting, finish the requests in flight (up to `GRACEFUL_S`), exit 0.

uvicorn's access log is off: access.py writes the one line per request (with the key's
name, never the key). Log lines follow NOTIFY_LOG_FORMAT (text, or JSON as the worker's)
and NOTIFY_LOG_LEVEL.
"""

from __future__ import annotations

import logging
import logging.config
import os
import secrets
import signal
from typing import Any

import uvicorn

from notify_relay.api.auth import Keyring, check_can_serve
from notify_relay.dashboard import auth as dashboard_auth
from producers.settings import Settings

#: A SIGTERM lets requests in flight finish for this long (a `?wait=` is cut short).
GRACEFUL_S = 10
#: An idle keep-alive connection is closed after this long.
KEEP_ALIVE_S = 5

log = logging.getLogger("notify_relay.api")


def log_config(settings: Settings) -> dict[str, Any]:
    """logging.dictConfig for uvicorn's loggers and ours (applied in every worker)."""
    formatter: dict[str, Any] = (
        {"()": "worker.logs.JsonFormatter"} if settings.log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"})
    handler = {"class": "logging.StreamHandler", "formatter": "default",
               "stream": "ext://sys.stderr"}
    ours = {"handlers": ["stderr"], "propagate": False}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"default": formatter}, "handlers": {"stderr": handler},
            "loggers": {"uvicorn": {**ours, "level": "INFO"},
                        "notify_relay": {**ours, "level": settings.log_level.upper()}}}


def dashboard_env(settings: Settings) -> dict[str, str]:
    """The dashboard's variables for uvicorn's workers (they build their settings from the
    environment): --allow-control, and one CSRF key for all of them (made here if unset,
    so a token from one worker's page is good at every other)."""
    return {"NOTIFY_DASHBOARD_CONTROL": "true" if settings.dashboard_control else "false",
            "NOTIFY_DASHBOARD_SECRET": settings.dashboard_secret or secrets.token_urlsafe(32)}


def dashboard_line(settings: Settings, host: str, port: int) -> str:
    if not (settings.dashboard_auth or settings.dashboard_local):
        return "off (set NOTIFY_DASHBOARD_AUTH=user:password, or NOTIFY_DASHBOARD_LOCAL=true)"
    login = ("login NOTIFY_DASHBOARD_AUTH" if settings.dashboard_auth
             else "no login: 127.0.0.1 only (NOTIFY_DASHBOARD_LOCAL)")
    mode = "replay and purge allowed" if settings.dashboard_control else "read-only"
    return f"http://{host}:{port}/ui/ ({login}; {mode})"


def exit_zero_after_graceful_stop() -> None:
    """After its graceful shutdown uvicorn restores the handlers it found and raises the
    signal again, so the process would die of SIGTERM (rc -15). The other processes of
    the service exit 0 on SIGTERM (Celery's warm shutdown, Flower), and supervisors
    (honcho, compose, systemd) read 0 as a clean stop: the handler found is this one."""
    def stopped(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Refuse to start without keys (auth.py), else serve until SIGTERM / Ctrl-C."""
    check_can_serve(settings, host)
    dashboard_auth.check_can_serve(settings, host)
    os.environ.update(dashboard_env(settings))  # what every worker's create_app reads
    config = log_config(settings)
    logging.config.dictConfig(config)
    keyring = Keyring.from_settings(settings)
    who = ("no keys: local requests only (NOTIFY_API_LOCAL)" if keyring.local else
           "keys: " + ", ".join(key.name for key in keyring.keys))
    log.info("api on http://%s:%d, %d worker(s); %s", host, port, workers, who)
    log.info("dashboard: %s", dashboard_line(settings, host, port))
    exit_zero_after_graceful_stop()
    uvicorn.run("notify_relay.api.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_config=config, access_log=False, server_header=False,
                timeout_graceful_shutdown=GRACEFUL_S, timeout_keep_alive=KEEP_ALIVE_S,
                lifespan="on")
