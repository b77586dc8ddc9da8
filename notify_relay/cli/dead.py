"""`notify-relay dead …`: list, show, replay, purge and export dead letters."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click

from notify_relay.cli.common import load_settings, print_json
from producers.connection import redis_client
from producers.outcomes import DEAD_REASONS
from worker.logs import escape_unprintable
from worker.store import Stores
from worker.store.deadletters import public


def _stores() -> Stores:
    """The stores a dead-letter command touches (no token needed: nothing is sent here)."""
    settings = load_settings()
    return Stores.build(settings, redis_client(settings))


reason_option = click.option("--reason", type=click.Choice(DEAD_REASONS), help="Only this reason.")
app_option = click.option("--application", help="Only this application code.")


@click.group()
def dead() -> None:
    """Inspect and act on jobs that will not be sent (dead letters)."""


@dead.command("list")
@reason_option
@app_option
@click.option("--limit", default=50, show_default=True, help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(reason: str | None, application: str | None, limit: int, as_json: bool) -> None:
    """Dead letters, newest first."""
    store = _stores().dead
    for entry in _limited(store.iter_newest(reason=reason, application=application), limit):
        if as_json:
            click.echo(json.dumps(public(entry)))
        else:
            click.echo(_row(entry))


@dead.command()
@click.argument("job_id")
def show(job_id: str) -> None:
    """One dead letter with its attempt log, as JSON (exit 1 if there is none)."""
    store = _stores().dead
    entry = store.get(job_id)
    if entry is None:
        click.echo(f"no dead letter for job {job_id}", err=True)
        sys.exit(1)
    print_json(public(entry))


@dead.command()
@click.argument("job_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter (filtered).")
@reason_option
@app_option
def replay(job_id: str | None, replay_all: bool, reason: str | None,
           application: str | None) -> None:
    """Send JOB_ID (or --all) again with a fresh attempt budget; same job id and key."""
    if bool(job_id) == replay_all:
        raise click.UsageError("give exactly one of JOB_ID or --all")
    stores = _stores()
    if job_id:
        found = stores.dead.get(job_id)
        if found is None:
            click.echo(f"no dead letter for job {job_id}", err=True)
            sys.exit(1)
        entries = [found]
    else:
        entries = list(stores.dead.iter_newest(reason=reason, application=application))
    replayed = 0
    for entry in entries:
        if stores.dead.replay(entry):
            replayed += 1
            click.echo(f"replayed {escape_unprintable(str(entry['job']['job_id']))}")
    click.echo(f"{replayed} job(s) replayed", err=True)


@dead.command()
@reason_option
@app_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(reason: str | None, application: str | None, yes: bool) -> None:
    """Delete dead letters (filtered), after confirmation."""
    store = _stores().dead
    if not yes:
        click.confirm("Delete the matching dead letters for good?", abort=True)
    doomed = list(store.iter_newest(reason=reason, application=application))
    click.echo(f"purged {store.purge(doomed)} dead letter(s)")


@dead.command()
@click.argument("file", type=click.File("w"))
@reason_option
@app_option
def export(file: Any, reason: str | None, application: str | None) -> None:
    """Write dead letters to FILE as JSON Lines (- for stdout), newest first."""
    store = _stores().dead
    count = 0
    for entry in store.iter_newest(reason=reason, application=application):
        file.write(json.dumps(public(entry)) + "\n")
        count += 1
    click.echo(f"exported {count} dead letter(s)", err=True)


def _limited(entries: Iterator[dict[str, Any]], limit: int) -> Iterator[dict[str, Any]]:
    for count, entry in enumerate(entries):
        if limit and count >= limit:
            return
        yield entry


def _row(entry: dict[str, Any]) -> str:
    # A foreign job id, an application code from an old record and the endpoint's error
    # text reach the terminal: escaped as the log lines are (L3), or one could forge a
    # row (\n, \r) or drive the terminal (ESC).
    when = datetime.fromtimestamp(entry["dead_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    job_id = escape_unprintable(str(entry["job"]["job_id"]))
    application = escape_unprintable(str(entry.get("application", "")))
    error = escape_unprintable((entry.get("last_error") or "")[:80])
    return (f"{when}  {job_id}  {entry['reason']:<12}  {application:<12}  "
            f"attempts={len(entry.get('attempts', []))}  {error}")
