"""`notify-relay webhooks …`: list, show, replay, purge webhook dead letters; resume a URL.

A webhook dead letter is an event whose every try failed (`exhausted`), one the receiver
answered 410 or that was not sent because it had (`gone`), or one that found the outbox
full (`overflow`). `replay` puts it back in the outbox with a fresh ladder and the same
`webhook-id`; after a 410, `resume` first lets webhooks go to the URL again.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from notify_relay.cli.common import load_settings, print_json
from producers.connection import redis_client
from producers.settings import SettingsError
from worker.store import Stores
from worker.store.webhooks import HOOK_DEAD_REASONS, Pending, WebhookStore, url_shown


def _store() -> tuple[WebhookStore, str]:
    settings = load_settings()
    return Stores.build(settings, redis_client(settings)).webhooks, settings.webhook_url


reason_option = click.option("--reason", type=click.Choice(HOOK_DEAD_REASONS),
                             help="Only this reason.")


@click.group()
def webhooks() -> None:
    """Inspect and act on webhooks that could not be delivered (webhook dead letters)."""


@webhooks.command("list")
@reason_option
@click.option("--pending", is_flag=True, help="The outbox instead: webhooks still to go.")
@click.option("--limit", default=50, show_default=True, help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(reason: str | None, pending: bool, limit: int, as_json: bool) -> None:
    """Webhook dead letters, newest first (or, with --pending, the outbox, next due first)."""
    store, _ = _store()
    found = store.iter_pending(limit) if pending else store.iter_dead(reason)
    for count, event in enumerate(found):
        if limit and count >= limit:
            return
        click.echo(json.dumps(public(event)) if as_json else _row(event))


@webhooks.command()
@click.argument("event_id")
def show(event_id: str) -> None:
    """One webhook (dead letter, else still pending) with its body, as JSON."""
    store, _ = _store()
    event = store.dead(event_id) or store.pending(event_id)
    if event is None:
        click.echo(f"no webhook {event_id}", err=True)
        sys.exit(1)
    print_json(public(event))


@webhooks.command()
@click.argument("event_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter (filtered).")
@reason_option
def replay(event_id: str | None, replay_all: bool, reason: str | None) -> None:
    """Deliver EVENT_ID (or --all) again: fresh ladder, same webhook-id."""
    if bool(event_id) == replay_all:
        raise click.UsageError("give exactly one of EVENT_ID or --all")
    store, _ = _store()
    if event_id:
        found = store.dead(event_id)
        if found is None:
            click.echo(f"no webhook dead letter {event_id}", err=True)
            sys.exit(1)
        entries = [found]
    else:
        entries = list(store.iter_dead(reason))
    replayed = 0
    for event in entries:
        result = store.replay(event)
        if result < 0:
            click.echo(f"{replayed} webhook(s) replayed; stopped: the outbox is full "
                       "(NOTIFY_WEBHOOK_MAX_PENDING)", err=True)
            sys.exit(1)
        if result:
            replayed += 1
            click.echo(f"replayed {event.id}")
    click.echo(f"{replayed} webhook(s) replayed", err=True)


@webhooks.command()
@reason_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(reason: str | None, yes: bool) -> None:
    """Delete webhook dead letters (filtered), after confirmation."""
    store, _ = _store()
    if not yes:
        click.confirm("Delete the matching webhook dead letters for good?", abort=True)
    click.echo(f"purged {store.purge(list(store.iter_dead(reason)))} webhook dead letter(s)")


@webhooks.command()
def resume() -> None:
    """Send webhooks to NOTIFY_WEBHOOK_URL again after it answered 410 Gone."""
    store, url = _store()
    if not url:
        raise SettingsError("NOTIFY_WEBHOOK_URL is not set: there is no webhook URL to resume",
                            todo="set it to the receiver's URL")
    if store.resume(url):
        click.echo(f"webhooks to {url_shown(url)} resumed; `notify-relay webhooks replay --all "
                   "--reason gone` sends what it missed")
    else:
        click.echo(f"webhooks to {url_shown(url)} were not stopped")


def public(event: Pending) -> dict[str, Any]:
    """A webhook as `list --json` and `show` print it: its state and its event."""
    try:
        body: Any = json.loads(event.body)
    except ValueError:
        body = event.body
    return {"id": event.id, **event.state, "event": body}


def _row(event: Pending) -> str:
    state = event.state
    at = state.get("dead_at") or state.get("created_at") or 0
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (f"{when}  {event.id}  {state.get('reason', 'pending'):<10}  "
            f"{state.get('type', ''):<23}  job={state.get('job_id', '')}  "
            f"tries={state.get('tries', 0)}  {state.get('last_error') or ''}").rstrip()
