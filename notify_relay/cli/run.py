"""Long-running commands: `emulator`, `scheduler`, and the end-to-end `demo`."""

from __future__ import annotations

import os
import threading

import click

import emulator as emulator_package
from notify_relay.cli.common import load_settings
from notify_relay.demo import run_demo
from notify_relay.workers import Supervisor
from producers.connection import redis_client
from worker.scheduler import SCHEDULER_REDIS_TIMEOUT_S, start_loops
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


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--processes", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="the CPU count", help="Worker processes to run on this host.")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(processes: int, celery_args: tuple[str, ...]) -> None:
    """Run one worker process per core here (threads pool), restarting any that dies.

    Every other option goes to each Celery worker (`--loglevel INFO`, `-Q`, ...; see
    `celery worker --help`); a `-n name@%h` becomes `name0@%h`, `name1@%h`, ... Each process
    is what `celery -A worker worker` runs, without the celery CLI's plugins (less memory).
    SIGTERM or Ctrl-C: a warm shutdown of all of them (sends in flight finish); the exit
    code is 0 when every worker exited 0, 2 when their settings are wrong.
    """
    load_settings()  # a bad variable: one line and exit 2 here, before any process starts
    raise SystemExit(Supervisor(processes, celery_args, os.environ).run())


@click.command()
def scheduler() -> None:
    """Hand waiting jobs out, move due retries back (workers do both too: run it only
    where retries must move while no worker runs)."""
    settings = load_settings()
    click.echo(f"scheduler handing jobs out to queue {settings.queue!r}; Ctrl-C stops")
    stop = threading.Event()
    client = redis_client(settings, socket_timeout=SCHEDULER_REDIS_TIMEOUT_S)
    threads = start_loops(Stores.build(settings, client), stop)
    try:
        while not stop.wait(1.0) and all(t.is_alive() for t in threads):
            pass
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
