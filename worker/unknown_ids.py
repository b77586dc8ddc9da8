"""Identifiers the endpoint did not know: read from a 2xx answer, attributed to their kind.

Pure functions. Pushwoosh answers `unknown_identifiers` when a transactional request sets
`return_unknown_identifiers` (spec §12), in one of two shapes third-party clients disagree
on; both are read, at the top level or inside `result` (the envelope fallback classify.py
uses for `message_code`):

| the answer's `unknown_identifiers`                         | recorded as                    |
|------------------------------------------------------------|--------------------------------|
| `{"users": [..], "hwids": [..], "push_tokens": [..]}`      | those lists (others ignored)   |
| `["a", "b"]` (flat)                                        | each under the request's list  |
|                                                            | that holds it; one the request |
|                                                            | does not hold: its only kind,  |
|                                                            | else `other`                   |
| absent, null, empty, another type, non-string entries      | nothing (entries: dropped)     |

The record is always `{"users": [...], "hwids": [...], "push_tokens": [...]}` (plus
`other` only when needed), or None when nothing is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("users", "hwids", "push_tokens")
OTHER = "other"
#: The answer is read from at most 64 KiB (worker/http.py); entries past this many are
#: not kept, nor one longer than an identifier can plausibly be.
MAX_IDENTIFIERS = 10_000
MAX_IDENTIFIER_CHARS = 1024


@dataclass(frozen=True)
class Reported:
    """`unknown_identifiers` as the endpoint answered it: by kind, or flat."""

    by_kind: tuple[tuple[str, tuple[str, ...]], ...] = ()
    flat: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.flat) or any(ids for _, ids in self.by_kind)


def read(envelope: dict[str, Any]) -> Reported | None:
    """The `unknown_identifiers` of a 2xx envelope, either shape; None when there are none."""
    value = envelope.get("unknown_identifiers")
    wrapped = envelope.get("result")
    if value is None and isinstance(wrapped, dict):
        value = wrapped.get("unknown_identifiers")
    if isinstance(value, list):
        reported = Reported(flat=_strings(value))
    elif isinstance(value, dict):
        reported = Reported(by_kind=tuple((kind, _strings(value.get(kind))) for kind in KINDS))
    else:
        return None
    return reported or None


def attribute(reported: Reported | None, request: dict[str, Any]) -> dict[str, list[str]] | None:
    """The record's form: every kind's list, the flat shape's entries put under theirs."""
    if not reported:
        return None
    out: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for kind, ids in reported.by_kind:
        out[kind].extend(ids)
    targets = _targets(request)
    only = [kind for kind in KINDS if targets[kind]]
    for identifier in reported.flat:
        holder = next((kind for kind in KINDS if identifier in targets[kind]), None)
        if holder is None:
            holder = only[0] if len(only) == 1 else OTHER
        out.setdefault(holder, []).append(identifier)
    return out


def count(record: dict[str, list[str]] | None) -> int:
    return sum(len(ids) for ids in (record or {}).values())


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    kept = [item for item in value if isinstance(item, str)
            and 0 < len(item) <= MAX_IDENTIFIER_CHARS]
    return tuple(kept[:MAX_IDENTIFIERS])


def _targets(request: dict[str, Any]) -> dict[str, set[str]]:
    """The request's identifier lists (`{"list": [...]}` per spec §4, or a bare list)."""
    body = request.get("transactional")
    body = body if isinstance(body, dict) else {}
    targets = {}
    for kind in KINDS:
        value = body.get(kind)
        items = value.get("list") if isinstance(value, dict) else value
        listed = items if isinstance(items, list) else []
        targets[kind] = {i for i in listed if isinstance(i, str)}
    return targets
