"""Reading a file of notify requests: one reader for `enqueue` and `validate`.

A file is one JSON request, a JSON array of requests, or JSON Lines (one request per
non-empty line; pretty-printed objects too). Strict JSON: a key given twice or NaN is
refused (protobuf JSON parsers refuse a field given twice; `json.loads` would keep the
last), a UTF-8 BOM is allowed. Each request comes back as an `Item` labelled by where it
was (`line N`, or `index N` in an array) with its value or why it could not be read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any


@dataclass(frozen=True)
class Item:
    """One request read from the file: where it was, what it parsed to, or why it did not."""

    label: str
    value: Any = None
    problem: str | None = None
    size: int = 0


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
    # JSON Lines after all when its first line stands on its own; else one broken document
    if not lines or lines[0].problem is not None:
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
