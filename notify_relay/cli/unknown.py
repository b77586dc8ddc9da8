"""`notify-relay unknown-ids export`: the identifiers the endpoint did not know, as JSON Lines.

One line per identifier: `{"identifier", "kind" (users, hwids, push_tokens), "application",
"job", "time"}`, oldest first. Kept NOTIFY_OUTCOME_TTL (and NOTIFY_UNKNOWN_IDS_MAX jobs at
most); reported only for requests that set `return_unknown_identifiers` (or all
transactional ones, with NOTIFY_RETURN_UNKNOWN_IDENTIFIERS=true).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import click

from notify_relay.cli.common import load_settings
from producers.connection import redis_client
from worker.store import Stores
from worker.store.unknown import lines

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `24h`, `7d` → seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise click.BadParameter(f"expected a duration such as 90s, 15m, 24h or 7d, "
                                 f"not {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


@click.group("unknown-ids")
def unknown_ids() -> None:
    """Identifiers (users, hwids, push tokens) the endpoint said it did not know."""


@unknown_ids.command()
@click.argument("file", type=click.File("w"))
@click.option("--since", help="Only those reported in this last while (e.g. 24h, 7d).")
@click.option("--application", help="Only this application code.")
def export(file: Any, since: str | None, application: str | None) -> None:
    """Write them to FILE as JSON Lines (- for stdout), oldest first."""
    settings = load_settings()
    store = Stores.build(settings, redis_client(settings)).unknown
    start = time.time() - parse_duration(since) if since else None
    count = 0
    for found in store.iter_since(start, application):
        for line in lines(found):
            file.write(json.dumps(line) + "\n")
            count += 1
    click.echo(f"exported {count} unknown identifier(s)", err=True)
