"""Checking a NotifyRequest before it is queued.

`validate()` is the single entry point used by `Producer.enqueue`, the CLI and the
worker (which checks again on consume). It returns the request exactly as it will
be POSTed, or raises `ValidationError` naming every bad field by its dotted path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import marshmallow


class ValidationError(marshmallow.ValidationError):
    """A request broke the contract; `messages` is a nested dict keyed by field."""

    def __str__(self) -> str:
        return "\n".join(f"{path}: {text}" for path, text in flatten_messages(self.messages))


def flatten_messages(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Turn marshmallow's nested messages into (dotted.path, text) pairs."""
    if isinstance(messages, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            pairs.extend(flatten_messages(value, path))
        return pairs
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return [(prefix or "_schema", " ".join(messages))]
        return [pair for m in messages for pair in flatten_messages(m, prefix)]
    return [(prefix or "_schema", str(messages))]


_KINDS = ("segment", "transactional")
_REQUIRED = ("application", "platforms", "schedule")


def validate(request: Any, *, strict: bool = False, max_targets: int = 1000) -> dict[str, Any]:
    """Check `request` and return it as it will be sent (placeholder: top level only)."""
    if not isinstance(request, Mapping):
        raise ValidationError({"_schema": ["Invalid input type: expected a JSON object."]})
    kinds = [k for k in _KINDS if k in request]
    errors: dict[str, Any] = {}
    for key in request:
        if key not in _KINDS:
            errors[key] = ["Unknown field."]
    if len(kinds) != 1:
        errors["_schema"] = ["Exactly one of 'segment' or 'transactional' is required."]
    else:
        body = request[kinds[0]]
        if not isinstance(body, Mapping):
            errors[kinds[0]] = ["Not a valid object."]
        else:
            missing = {f: ["Missing data for required field."] for f in _REQUIRED if f not in body}
            if missing:
                errors[kinds[0]] = missing
    if errors:
        raise ValidationError(errors)
    return dict(request)


def validate_many(
    requests: Iterable[Any], *, strict: bool = False, max_targets: int = 1000
) -> list[dict[str, Any]]:
    """Validate every request; one error keyed by the index of each bad item."""
    valid: list[dict[str, Any]] = []
    errors: dict[int, Any] = {}
    for index, request in enumerate(requests):
        try:
            valid.append(validate(request, strict=strict))
        except ValidationError as exc:
            errors[index] = exc.messages
    if errors:
        raise ValidationError(errors)
    return valid
