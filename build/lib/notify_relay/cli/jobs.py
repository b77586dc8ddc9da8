"""`notify-relay enqueue` and `notify-relay outcome`."""

from __future__ import annotations

import sys
from typing import IO

import click

from notify_relay.cli.common import load_settings, print_json
from notify_relay.cli.requestfile import read_items
from producers import Priority, Producer, ValidationError


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option("--priority", type=click.Choice([p.value for p in Priority]), default="normal",
              show_default=True, help="urgent > normal > bulk when the budget is short.")
@click.option("--idempotency-key", help="Only for a single request: dedupe key.")
@click.option("--expires-in", type=click.FloatRange(min=0, min_open=True),
              help="Seconds until the job is too late to send.")
@click.option("--strict", is_flag=True, help="Also reject structures whose fields are unknown.")
def enqueue(file: IO[bytes], priority: str, idempotency_key: str | None,
            expires_in: float | None, strict: bool) -> None:
    """Validate and enqueue the request(s) in FILE (JSON, JSON array or JSON Lines; - for
    stdin), read as `notify-relay validate` reads it.

    Prints one job id per line. If any request is invalid, prints every error with
    where it was (`line N` / `index N`), enqueues nothing and exits 1.
    """
    items = list(read_items(file))
    if idempotency_key and len(items) != 1:
        raise click.UsageError("--idempotency-key needs exactly one request")
    bad = {item.label: item.problem for item in items if item.problem is not None}
    if not bad:
        # enqueue_many validates everything first (with NOTIFY_MAX_TARGETS) and queues
        # nothing if one is bad: the only validation pass, keyed by item index.
        producer = Producer(settings=load_settings())
        keys = [idempotency_key] if idempotency_key else None
        try:
            job_ids = producer.enqueue_many([item.value for item in items], priority=priority,
                                            idempotency_keys=keys, expires_in=expires_in,
                                            strict=strict)
        except ValidationError as exc:
            per_item = exc.messages if isinstance(exc.messages, dict) else {}
            bad = {items[int(i)].label: str(ValidationError(m)) for i, m in per_item.items()}
    if bad:
        for label, text in bad.items():
            for row in text.splitlines():
                click.echo(f"{label}: {row}", err=True)
        sys.exit(1)
    for job_id in job_ids:
        click.echo(job_id)


@click.command()
@click.argument("job_id")
def outcome(job_id: str) -> None:
    """Print JOB_ID's status and attempt log as JSON; exit 1 if the job is unknown."""
    record = Producer(settings=load_settings()).outcome(job_id)
    if record is None:
        click.echo(f"unknown job: {job_id} (never enqueued, or its outcome expired)", err=True)
        sys.exit(1)
    print_json(record)
