"""`notify-relay api` (serve the HTTP API) and `notify-relay api-key` (make a key)."""

from __future__ import annotations

import click

from notify_relay.api.auth import new_key
from notify_relay.cli.common import load_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Listen address (0.0.0.0: every interface; needs NOTIFY_API_KEYS).")
@click.option("--port", default=8000, show_default=True, envvar="PORT",
              type=click.IntRange(0, 65535), help="Port to listen on (also $PORT).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Server processes on this port (one per core for the most requests/s).")
@click.option("--allow-control", is_flag=True,
              help="Dashboard (/ui) buttons that replay and purge dead letters (off: "
                   "read-only). Whoever has the dashboard's login can then use them.")
def api(host: str, port: int, workers: int, allow_control: bool) -> None:
    """Serve the HTTP API: POST /v1/notifications[/batch], GET /v1/notifications/ID.

    Callers send `Authorization: Bearer <key>` with a key from NOTIFY_API_KEYS
    (`notify-relay api-key NAME` makes one). Without keys it refuses to start, unless
    NOTIFY_API_LOCAL=true (then on 127.0.0.1 only, no key asked). The document is at
    GET /v1/openapi.json; GET /healthz says whether Redis answers.

    The dashboard is at /ui, behind its own login, NOTIFY_DASHBOARD_AUTH=user:password
    (or NOTIFY_DASHBOARD_LOCAL=true: 127.0.0.1 only), read-only unless --allow-control.
    """
    from notify_relay.api.server import serve  # uvicorn and Starlette only for this command

    settings = load_settings()
    if allow_control:
        settings = settings.replace(dashboard_control=True)
    serve(settings, host, port, workers)


@click.command("api-key")
@click.argument("name")
@click.option("--apps", default="", metavar="A,B",
              help="Applications the key may enqueue for (default: any).")
def api_key(name: str, apps: str) -> None:
    """Print a new API key for NAME and its NOTIFY_API_KEYS entry.

    The key is shown once: give it to the client. Only the entry (NAME, the key's
    SHA-256, the applications) goes into NOTIFY_API_KEYS, comma-separated from others.
    """
    key, entry = new_key(name, apps.split(","))
    click.echo(f"key: {key}")
    click.echo(f"entry: {entry}")
    click.echo("Give the key to the client (it is not stored anywhere); append the entry "
               "to NOTIFY_API_KEYS (entries are comma-separated) and restart the API.",
               err=True)
