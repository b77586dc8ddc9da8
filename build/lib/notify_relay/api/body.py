"""Reading a request body: media type (415), size (413), JSON (400), the envelope (422).

The request inside the envelope is `producers.validate`'s to judge (the producer does
it); here only the envelope around it is checked, with the same error shape:

    POST /v1/notifications        {"request": {...}, "priority": "urgent", "expires_in": 600,
                                   "strict": false}            + optional Idempotency-Key
    POST /v1/notifications/batch  {"requests": [...], "priority": ..., "expires_in": ...,
                                   "strict": ..., "idempotency_keys": ["k1", null, ...]}

Limits: one request is refused by `validate` at 10 MB as it will be POSTed
(`REQUEST_LIMIT_BYTES`); the HTTP body may carry a little more (the envelope, spaces),
`BODY_LIMIT_BYTES`, and a batch has the same total (split bigger batches: a body is held
in memory whole, and its parsed form is several times its size). A body over
`OFF_LOOP_BYTES` is parsed and validated in a worker thread, not on the event loop.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request

from notify_relay.api.errors import invalid, refused
from producers.enqueue import expires_in_ms
from producers.job import Priority
from producers.settings import Settings
from producers.validation import REQUEST_LIMIT_BYTES

#: The envelope's own keys and spaces around one 10 MB request.
ENVELOPE_BYTES = 64 * 1024
BODY_LIMIT_BYTES = REQUEST_LIMIT_BYTES + ENVELOPE_BYTES
#: Most requests in one batch (one batch is ceil(N / 256) script calls, one round trip).
BATCH_MAX = 1000
#: Bodies larger than this are parsed and validated off the event loop (~2 ms of work).
OFF_LOOP_BYTES = 256 * 1024
IDEMPOTENCY_KEY_MAX = 255
MISSING = "Missing data for required field."
UNKNOWN = "Unknown field."


@dataclass(frozen=True)
class Body:
    value: Any
    size: int

    @property
    def large(self) -> bool:
        return self.size > OFF_LOOP_BYTES


@dataclass(frozen=True)
class Options:
    """What both endpoints take besides the request(s): `Producer.enqueue`'s keywords."""

    priority: str
    expires_in: float | None
    strict: bool


async def read_json(request: Request) -> Body:
    """The body, parsed; ApiError 415, 413 or 400 before any of it is trusted."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise refused(415, "send the body as JSON, with Content-Type: application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT_BYTES:
        raise _too_large()  # answered before the body is read (curl waits on Expect)
    raw = await _read_capped(request)
    try:
        value = (await asyncio.to_thread(_parse, raw) if len(raw) > OFF_LOOP_BYTES
                 else _parse(raw))
    except ValueError as exc:
        raise refused(400, f"the body is not JSON: {exc}") from None
    return Body(value, len(raw))


async def _read_capped(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> Exception:
    return refused(413, f"the body is over {BODY_LIMIT_BYTES:,} bytes: one request must be "
                   f"under {REQUEST_LIMIT_BYTES:,} bytes as JSON, and a batch too in total "
                   "(split it)")


def _parse(raw: bytes) -> Any:
    return json.loads(raw, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def single(value: Any, settings: Settings) -> tuple[Any, Options]:
    """(the request, its options) from `POST /v1/notifications`'s body, or 422."""
    envelope, errors = _envelope(value, {"request"}, settings)
    if "request" not in envelope:
        errors.setdefault("request", [MISSING])
    if errors:
        raise invalid(errors)
    return envelope["request"], _options(envelope)


def batch(value: Any, settings: Settings) -> tuple[list[Any], list[str | None] | None,
                                                   Options]:
    """(the requests, their idempotency keys, options) from the batch body, or 422."""
    envelope, errors = _envelope(value, {"requests", "idempotency_keys"}, settings)
    requests = envelope.get("requests")
    if "requests" not in envelope:
        errors["requests"] = [MISSING]
    elif not isinstance(requests, list) or not requests or len(requests) > BATCH_MAX:
        errors["requests"] = [f"Must be a list of 1 to {BATCH_MAX} requests."]
    keys = envelope.get("idempotency_keys")
    if keys is not None and not (isinstance(keys, list) and isinstance(requests, list)
                                 and len(keys) == len(requests)
                                 and all(k is None or _key_problem(k) is None for k in keys)):
        errors["idempotency_keys"] = ["Must be a list with one key (a string of 1 to "
                                      f"{IDEMPOTENCY_KEY_MAX} printable ASCII characters) or "
                                      "null per request."]
    if errors:
        raise invalid(errors)
    return requests, keys, _options(envelope)  # type: ignore[return-value]


def _envelope(value: Any, own: set[str],
              settings: Settings) -> tuple[dict[str, Any], dict[str, list[str]]]:
    if not isinstance(value, dict):
        raise invalid({"_schema": ["Not a valid object: the body is a JSON object."]})
    errors = {key: [UNKNOWN] for key in value
              if key not in own | {"priority", "expires_in", "strict"}}
    if "priority" in value:
        try:
            Priority.parse(value["priority"])
        except ValueError as exc:
            errors["priority"] = [str(exc)]
    if value.get("expires_in") is not None:
        try:
            expires_in_ms(settings, value["expires_in"])
        except ValueError as exc:
            errors["expires_in"] = [str(exc)]
    if not isinstance(value.get("strict", False), bool):
        errors["strict"] = ["Not a valid boolean."]
    return value, errors


def _options(envelope: dict[str, Any]) -> Options:
    return Options(priority=envelope.get("priority") or Priority.NORMAL.value,
                   expires_in=envelope.get("expires_in"),
                   strict=bool(envelope.get("strict", False)))


def idempotency_key(headers: Headers) -> str | None:
    """The `Idempotency-Key` header, or None; 422 when it is empty or unprintable."""
    key = headers.get("idempotency-key")
    if key is None:
        return None
    problem = _key_problem(key)
    if problem:
        raise invalid({"Idempotency-Key": [problem]})
    return key


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str) or not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        return f"Must be 1 to {IDEMPOTENCY_KEY_MAX} characters."
    if not (key.isascii() and key.isprintable()):
        return "Must be printable ASCII characters only."
    return None
