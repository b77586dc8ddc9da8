"""`notify-relay validate FILE` and `notify-relay schema`: the notify contract on the command line.

`validate` reads one JSON request, a JSON array of requests, or JSON Lines (one request
per non-empty line), checks each with `producers.validate` without touching Redis, and
prints every error as `line N: field.path: message`. Exit status: 0 all valid, 1 any
invalid, 2 usage error or unreadable file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import IO, Any

import click

from notify_relay.cli.requestfile import Item, read_items
from producers.jsonschema import json_schema, openapi
from producers.schemas.options import DEFAULT_MAX_TARGETS
from producers.validation import ValidationError, flatten_messages, warnings
from producers.validation import validate as validate_request

#: Files at least this big get progress reports even when stderr is not a terminal.
LARGE_FILE_BYTES = 10 * 1024 * 1024


class Unreadable(click.ClickException):
    """The file could not be read at all (exit status 2, like a usage error)."""

    exit_code = 2


@click.command("validate")
@click.argument("file", type=click.File("rb"))
@click.option("--strict", is_flag=True, help="Refuse what the reference does not confirm.")
@click.option(
    "--max-targets",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_TARGETS,
    show_default=True,
    help="Most ids allowed in one hwids / users / push_tokens list.",
)
@click.option(
    "--warnings",
    "show_warnings",
    is_flag=True,
    help="Also print advice that is not a rule (e.g. a block for an untargeted platform).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Report progress on stderr [default: when stderr is a terminal or the file is large].",
)
def validate(
    file: IO[bytes], strict: bool, max_targets: int, show_warnings: bool, progress: bool | None
) -> None:
    """Check FILE (JSON, JSON array or JSON Lines; - for stdin) without enqueueing.

    Errors go to stdout as `line N: field.path: message` (`index N: ...`, from 0, for the
    items of a JSON array); the count and any progress go to stderr.
    """
    size = _size(file)
    total = invalid = 0
    try:
        with Progress(size, progress) as advance:
            for item in read_items(file):
                total += 1
                errors, advice = _check(item, strict, max_targets, show_warnings)
                invalid += bool(errors)
                for text in errors + advice:
                    click.echo(f"{item.label}: {text}")
                advance(item.size)
    except OSError as exc:
        raise Unreadable(f"cannot read {getattr(file, 'name', 'the file')}: {exc}") from None
    noun = "request" if total == 1 else "requests"
    click.echo(f"{total} {noun} checked: {total - invalid} valid, {invalid} invalid", err=True)
    sys.exit(1 if invalid else 0)


@click.command("schema")
@click.option(
    "--format",
    "form",
    type=click.Choice(["jsonschema", "openapi"]),
    default="jsonschema",
    show_default=True,
    help="JSON Schema 2020-12 document, or an OpenAPI 3.1 document for the endpoint.",
)
@click.option("--strict", is_flag=True, help="The contract of strict mode.")
def schema(form: str, strict: bool) -> None:
    """Print the notify request contract, generated from the marshmallow schemas."""
    document = json_schema(strict=strict) if form == "jsonschema" else openapi(strict=strict)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _check(
    item: Item, strict: bool, max_targets: int, with_warnings: bool
) -> tuple[list[str], list[str]]:
    """(error lines, warning lines) for one item."""
    if item.problem is not None:
        return [item.problem], []
    try:
        request = validate_request(item.value, strict=strict, max_targets=max_targets)
    except ValidationError as exc:
        return [f"{path}: {text}" for path, text in flatten_messages(exc.messages)], []
    return [], [f"warning: {text}" for text in warnings(request)] if with_warnings else []


def _size(file: IO[bytes]) -> int | None:
    """The byte size of a seekable file (stdin redirected from a file too), else None."""
    try:
        if not file.seekable():
            return None
        end = file.seek(0, os.SEEK_END)
        file.seek(0)
        return end
    except OSError:
        return None


class Progress:
    """Progress on stderr: a bar on a terminal, a line per 10% for a large file elsewhere."""

    def __init__(self, size: int | None, wanted: bool | None) -> None:
        terminal = sys.stderr.isatty()
        large = size is not None and size >= LARGE_FILE_BYTES
        # without a known size (a pipe) there is nothing to measure progress against
        self.show = size is not None and (wanted if wanted is not None else terminal or large)
        self.terminal, self.size, self.done, self.next_report = terminal, size, 0, 0.1
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if self.show and self.terminal:
            self.bar = click.progressbar(length=self.size, label="validating", file=sys.stderr)
            self.bar.__enter__()
        return self.advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def advance(self, size: int) -> None:
        if not self.show:
            return
        self.done += size
        if self.bar is not None:
            self.bar.update(size)
        elif self.size and self.done >= self.next_report * self.size:
            click.echo(f"validating: {self.done * 100 // self.size}%", err=True)
            self.next_report = (self.done * 10 // self.size + 1) / 10
