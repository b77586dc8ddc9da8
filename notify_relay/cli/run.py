"""Long-running commands: `emulator`, `scheduler`, and the end-to-end `demo`."""

from __future__ import annotations

import threading

import click

import emulator as emulator_package
from notify_relay.cli.common import load_settings
from notify_relay.demo import run_demo
from producers.connection import redis_client
from worker.scheduler import run_scheduler
from worker.store import Stores


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, envvar="PORT",
              help="Port to listen on (also $PORT); 0 picks a free one.")
@click.option("--token", envvar="EMULATOR_TOKEN",
              help="Only accept this API token (default: any non-empty token).")
@click.option("--latency-ms", default=0.0, show_default=True, help="Added to every answer.")
def emulator(host: str, port: int, token: str | None, latency_ms: float) -> None:
    """Run the local stand-in for POST /messaging/v2/notify (with a fault-scripting API)."""
    emulator_package.serve(host, port, token=token, latency_ms=latency_ms)


@click.command()
def scheduler() -> None:
    """Move due retries back to the queue (workers do this too; run it where none run)."""
    settings = load_settings()
    click.echo(f"scheduler moving due jobs to queue {settings.queue!r}; Ctrl-C stops")
    stop = threading.Event()
    client = redis_client(settings)
    try:
        run_scheduler(Stores.build(settings, client), stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        client.close()


@click.command()
@click.option("--keep-running", is_flag=True, help="Leave worker, Flower and emulator up.")
@click.option("--flower-port", default=5555, show_default=True)
def demo(keep_running: bool, flower_port: int) -> None:
    """Run the whole service end to end and enqueue example requests.

    Without PUSHWOOSH_API_TOKEN it starts the local emulator and points the worker
    at it. Starts a worker and Flower, enqueues the examples, prints their outcomes.
    """
    raise SystemExit(run_demo(load_settings(), keep_running=keep_running,
                              flower_port=flower_port))
