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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import click

from producers.jsonschema import json_schema, openapi
from producers.schemas.settings import DEFAULT_MAX_TARGETS
from producers.validation import ValidationError, flatten_messages, warnings
from producers.validation import validate as validate_request

#: Files at least this big get progress reports even when stderr is not a terminal.
LARGE_FILE_BYTES = 10 * 1024 * 1024


class Unreadable(click.ClickException):
    """The file could not be read at all (exit status 2, like a usage error)."""

    exit_code = 2


@dataclass(frozen=True)
class Item:
    """One request read from the file: where it was, what it parsed to, or why it did not."""

    label: str
    value: Any = None
    problem: str | None = None
    size: int = 0


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


def read_items(stream: IO[bytes]) -> Iterator[Item]:
    """The requests of a JSON, JSON-array or JSON Lines byte stream, as `Item`s."""
    number, first, skipped = _first_content_line(stream)
    if first is None:
        return
    head = _decode(first, first_line=number == 1)
    if head is not None and _needs_whole_file(head):
        yield from _whole_file(first + stream.read(), number, skipped)
        return
    yield from _json_lines(_chain(first, stream), number, skipped)


def _needs_whole_file(head: str) -> bool:
    """An array, or an object that does not close on its first line (pretty-printed)."""
    start = head.lstrip()[:1]
    return start == "[" or (start == "{" and _parse(head)[1] is not None)


def _whole_file(data: bytes, number: int, skipped: int) -> Iterator[Item]:
    """One JSON document; if it does not parse, JSON Lines, or the document's own error."""
    document, problem = _parse(_decode(data, first_line=number == 1), first_line=number)
    if problem is None and isinstance(document, dict | list):
        yield from _document_items(document, number, skipped + len(data))
        return
    lines = list(_json_lines(iter(data.splitlines(keepends=True)), number, skipped))
    if not any(isinstance(item.value, dict) for item in lines):  # one broken document
        yield Item(f"line {number}", problem=problem, size=skipped + len(data))
        return
    yield from lines


def _first_content_line(stream: IO[bytes]) -> tuple[int, bytes | None, int]:
    skipped = 0
    for number, raw in enumerate(stream, start=1):
        if raw.strip():
            return number, raw, skipped
        skipped += len(raw)
    return 0, None, skipped


def _chain(first: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield first
    yield from stream


def _document_items(document: Any, number: int, size: int) -> Iterator[Item]:
    if isinstance(document, dict):
        yield Item(f"line {number}", document, size=size)
        return
    for index, value in enumerate(document):
        yield Item(f"index {index}", value, size=size if index == 0 else 0)
    if not document:
        yield Item(f"line {number}", problem="an empty JSON array: no requests", size=size)


def _json_lines(lines: Iterator[bytes], first_number: int, skipped: int) -> Iterator[Item]:
    extra = skipped
    for number, raw in enumerate(lines, start=first_number):
        if not raw.strip():
            extra += len(raw)
            continue
        text = _decode(raw, first_line=number == 1)
        value, problem = _parse(text) if text is not None else (None, "not UTF-8 text")
        yield Item(f"line {number}", value, problem, size=len(raw) + extra)
        extra = 0


def _decode(raw: bytes, *, first_line: bool) -> str | None:
    try:
        return raw.decode("utf-8-sig" if first_line else "utf-8")
    except UnicodeDecodeError:
        return None


def _parse(text: str | None, *, first_line: int = 0) -> tuple[Any, str | None]:
    """(value, None) for strict JSON, or (None, why not); `first_line` numbers a document."""
    if text is None:
        return None, "not UTF-8 text"
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant), None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno + first_line - 1} " if first_line else ""
        return None, f"invalid JSON: {exc.msg} ({where}column {exc.colno})"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # protobuf JSON parsers refuse a field given twice (INFERRED); json.loads keeps the last
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
