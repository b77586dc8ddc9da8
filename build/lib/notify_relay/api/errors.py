"""What the API answers when a call fails: one `ApiError`, one JSON shape per kind.

| case                                   | status | body                                  |
|----------------------------------------|--------|---------------------------------------|
| no or unknown key                      | 401    | `{"error": ...}`, `WWW-Authenticate`  |
| the key is not for that application    | 403    | `{"error": ...}`                      |
| unknown job (or another app's), path   | 404    | `{"error": ...}`                      |
| method not allowed                     | 405    | `{"error": ...}`, `Allow`             |
| body not JSON                          | 400    | `{"error": ...}`                      |
| body over the limit                    | 413    | `{"error": ...}`                      |
| body not `application/json`            | 415    | `{"error": ...}`                      |
| invalid request or envelope            | 422    | `{"errors": {"path": ["message"]}}`   |
| Redis unavailable (`QueueUnavailable`) | 503    | `{"error": ...}`, `Retry-After`       |
| Redis full (`QueueFull`)               | 507    | `{"error": ...}`                      |
| anything else                          | 500    | `{"error": "internal error"}`         |

The status for our exception tree is `producers.http_status_for` (the one table). 422's
paths and messages are `producers.validate`'s (`flatten_messages`): what `notify-relay
validate` prints. A Redis failure is logged here in full (`one_line`: endpoint, why) and
answered in general terms: a client learns that it should retry, not where Redis lives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from producers.exceptions import (
    NotifyRelayError,
    QueueError,
    ValidationError,
    flatten_messages,
    http_status_for,
    one_line,
)

log = logging.getLogger("notify_relay.api")


class ApiError(Exception):
    """An answer other than success: `status`, a JSON `body`, maybe `headers`."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status, self.body, self.headers = status, body, dict(headers or {})

    def response(self) -> Response:
        return JSONResponse(self.body, self.status, headers=self.headers)


def refused(status: int, message: str, **headers: str) -> ApiError:
    return ApiError(status, {"error": message}, headers)


def invalid(errors: Mapping[str, list[str]]) -> ApiError:
    """422 with `{"errors": {path: [message, ...]}}`."""
    return ApiError(422, {"errors": dict(errors)})


def validation_errors(error: ValidationError) -> dict[str, list[str]]:
    """A ValidationError's messages by dotted path, as `producers.validate` words them."""
    errors: dict[str, list[str]] = {}
    for path, text in flatten_messages(error.messages):
        errors.setdefault(path, []).append(text)
    return errors


def from_notify_relay(error: NotifyRelayError) -> ApiError:
    """Our exception tree as an answer (`http_status_for`)."""
    if isinstance(error, ValidationError):
        return invalid(validation_errors(error))
    status, retry_after = http_status_for(error)
    log.warning("api: %s", one_line(error))
    if status == 503:
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        later = f" in {retry_after} s" if retry_after else ""
        return refused(503, f"the queue is unavailable: retry{later} (with the same "
                       "Idempotency-Key, if you sent one)", **headers)
    if status == 507:
        return refused(507, "the queue is full: nothing was queued; retry later")
    if isinstance(error, QueueError):
        return refused(status, "the queue refused the request: nothing was queued")
    return refused(500, "internal error")


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def on_notify_relay_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotifyRelayError)
    return from_notify_relay(exc).response()


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (method), in our JSON shape."""
    assert isinstance(exc, HTTPException)
    message = {404: "no such path", 405: "method not allowed"}.get(exc.status_code,
                                                                   str(exc.detail))
    return refused(exc.status_code, message, **(exc.headers or {})).response()


async def on_internal_error(request: Request, exc: Exception) -> Response:
    return refused(500, "internal error").response()


HANDLERS = {ApiError: on_api_error, NotifyRelayError: on_notify_relay_error,
            HTTPException: on_http_exception, Exception: on_internal_error}
