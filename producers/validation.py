"""Checking a NotifyRequest before it is queued.

`validate()` is the single entry point used by `Producer.enqueue`, the CLI and the
worker (which checks again on consume). It returns the request exactly as it will
be POSTed, or raises `ValidationError` naming every bad field by its dotted path.
The rules live in `producers.schemas` (one module per part of the reference); the
request's size as a whole (§14) is checked here, on the body `request_json` gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import marshmallow

# The error and its (path, text) pairs live with the rest of the tree; importable from
# here as before.
from producers.exceptions import ValidationError, flatten_messages
from producers.schemas.advice import request_warnings
from producers.schemas.base import SCHEMA_KEY
from producers.schemas.options import DEFAULT_MAX_TARGETS, options_for, using
from producers.schemas.request import NotifyRequestSchema
from producers.wire import REQUEST_LIMIT_BYTES, request_json

__all__ = [
    "DEFAULT_MAX_TARGETS",
    "REQUEST_LIMIT_BYTES",
    "ValidationError",
    "flatten_messages",
    "request_json",
    "validate",
    "validate_many",
    "warnings",
]

#: Built once: marshmallow schemas are reusable and per-call options travel in settings.
_REQUEST_SCHEMA = NotifyRequestSchema()


def validate(
    request: Any, *, strict: bool = False, max_targets: int = DEFAULT_MAX_TARGETS
) -> dict[str, Any]:
    """Check `request` and return a plain-JSON copy of it, as it will be sent.

    Nothing is added, renamed or reordered. `strict` refuses what the reference does
    not confirm (see `producers.schemas`); `max_targets` caps each id list, and the
    body as POSTed (`request_json`) must be under REQUEST_LIMIT_BYTES (§14).
    Any other value than a JSON object is refused with a `ValidationError` too.
    """
    if not isinstance(request, Mapping):
        kind = type(request).__name__
        raise ValidationError(
            {SCHEMA_KEY: [f"Not a valid object: a request is a JSON object, not {kind}."]}
        )
    with using(options_for(strict, max_targets)):
        try:
            _REQUEST_SCHEMA.load(request)
        except marshmallow.ValidationError as exc:
            raise ValidationError(exc.messages) from None
    plain = _plain(request)
    _check_size(len(request_json(plain)))  # one C-level encode: ~1/6 of a validation
    return plain


def _check_size(size: int) -> None:
    if size >= REQUEST_LIMIT_BYTES:
        raise ValidationError({SCHEMA_KEY: [
            f"The request is {size:,} bytes as JSON; the API takes a body under 10 MB "
            f"({REQUEST_LIMIT_BYTES:,} bytes, §14)."]})


def validate_many(
    requests: Iterable[Any], *, strict: bool = False, max_targets: int = DEFAULT_MAX_TARGETS
) -> list[dict[str, Any]]:
    """Validate every request; one error keyed by the index of each bad item."""
    if isinstance(requests, Mapping | str | bytes):
        raise TypeError("validate_many() takes an iterable of requests; use validate() for one")
    valid: list[dict[str, Any]] = []
    errors: dict[int, Any] = {}
    for index, request in enumerate(requests):
        try:
            valid.append(validate(request, strict=strict, max_targets=max_targets))
        except ValidationError as exc:
            errors[index] = exc.messages
    if errors:
        raise ValidationError(errors)
    return valid


def warnings(request: Any) -> list[str]:
    """Advice the reference gives without making it a rule, as `path: text` lines.

    For example a content block for a platform the request does not target (§7). Never
    raises; meant for a request that `validate` accepted.
    """
    return request_warnings(request)


def _plain(value: Any) -> Any:
    """A copy made of dict / list / str / numbers only (tuples become lists)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str) and type(value) is not str:
        return str.__str__(value)  # e.g. a Platform member becomes "IOS"
    return value
