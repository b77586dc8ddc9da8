"""Failure classification: one pure function from a send's result to a `Verdict`.

The table (DESIGN.md "Failure classification"); a gRPC code in the error envelope
wins over the HTTP status when both are present, since it is the more precise one:

| what came back                                               | class      |
|--------------------------------------------------------------|------------|
| 2xx (message code read from the body if any)                 | success    |
| 400 404 409 501, other 4xx / INVALID_ARGUMENT NOT_FOUND       | permanent  |
|   ALREADY_EXISTS FAILED_PRECONDITION OUT_OF_RANGE UNIMPLEMENTED |          |
| 401 403 / UNAUTHENTICATED PERMISSION_DENIED                  | systemic   |
| 429 / RESOURCE_EXHAUSTED                                     | throttled  |
| 408, 5xx / UNAVAILABLE INTERNAL UNKNOWN DEADLINE_EXCEEDED     | transient  |
|   ABORTED DATA_LOSS CANCELLED                                |            |
| connect error, connect timeout, TLS certificate rejected     | transient  |
|   (nothing was sent)                                         |            |
| read timeout, reset / disconnect after sending, protocol or  | ambiguous  |
|   other TLS error (the server may have acted on it)          |            |

Send errors are urllib3's (worker.http uses it directly, with its retries off).
"""

from __future__ import annotations

import email.utils
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProxyError, SSLError
from urllib3.util.ssl_match_hostname import CertificateError

from worker.failures import FailureClass

_GRPC_CLASS = {
    1: FailureClass.TRANSIENT,  # CANCELLED
    2: FailureClass.TRANSIENT,  # UNKNOWN
    3: FailureClass.PERMANENT,  # INVALID_ARGUMENT
    4: FailureClass.TRANSIENT,  # DEADLINE_EXCEEDED
    5: FailureClass.PERMANENT,  # NOT_FOUND
    6: FailureClass.PERMANENT,  # ALREADY_EXISTS
    7: FailureClass.SYSTEMIC,  # PERMISSION_DENIED
    8: FailureClass.THROTTLED,  # RESOURCE_EXHAUSTED
    9: FailureClass.PERMANENT,  # FAILED_PRECONDITION
    10: FailureClass.TRANSIENT,  # ABORTED: gRPC advises a retry at a higher level
    11: FailureClass.PERMANENT,  # OUT_OF_RANGE
    12: FailureClass.PERMANENT,  # UNIMPLEMENTED
    13: FailureClass.TRANSIENT,  # INTERNAL
    14: FailureClass.TRANSIENT,  # UNAVAILABLE
    15: FailureClass.TRANSIENT,  # DATA_LOSS
    16: FailureClass.SYSTEMIC,  # UNAUTHENTICATED
}


@dataclass(frozen=True)
class SendResult:
    """What one POST produced: a response, or the exception that replaced it."""

    duration_ms: float
    status: int | None = None
    headers: dict[str, str] | None = None
    body: bytes = b""
    error: BaseException | None = None


@dataclass(frozen=True)
class Verdict:
    cls: FailureClass
    http_status: int | None = None
    grpc_code: int | None = None
    message: str | None = None
    message_code: str | None = None
    retry_after_s: float | None = None

    @property
    def ambiguous(self) -> bool:
        return self.cls is FailureClass.AMBIGUOUS


def classify(result: SendResult, now: float | None = None) -> Verdict:
    if result.error is not None or result.status is None:
        return _classify_error(result.error)
    envelope = _json_object(result.body)
    if 200 <= result.status < 300:
        return _success(result.status, envelope, result.body)
    grpc_code = envelope.get("code") if isinstance(envelope.get("code"), int) else None
    message = envelope.get("message") if isinstance(envelope.get("message"), str) else None
    cls = _GRPC_CLASS.get(grpc_code) if grpc_code else None
    retry_after = parse_retry_after((result.headers or {}).get("retry-after"), now)
    return Verdict(
        cls=cls or _http_class(result.status),
        http_status=result.status,
        grpc_code=grpc_code,
        message=message or _snippet(result.body) or f"HTTP {result.status}",
        retry_after_s=retry_after,
    )


def _success(status: int, envelope: dict[str, Any], body: bytes) -> Verdict:
    # Top level per the spec's reading of gRPC-gateway (§12); `result.` is a fallback
    # for the wrapped shape some clients expect.
    wrapped = envelope.get("result")
    nested: dict[str, Any] = wrapped if isinstance(wrapped, dict) else {}
    code = envelope.get("message_code") or nested.get("message_code")
    note = None
    if not body.strip():
        note = "success status with an empty body"
    elif not envelope:
        note = "success status with an unreadable body"
    return Verdict(FailureClass.SUCCESS, http_status=status,
                   message_code=str(code) if code else None, message=note)


def _http_class(status: int) -> FailureClass:
    if status in (401, 403):
        return FailureClass.SYSTEMIC
    if status == 429:
        return FailureClass.THROTTLED
    if status == 408 or (status >= 500 and status != 501):
        return FailureClass.TRANSIENT
    return FailureClass.PERMANENT


def _classify_error(error: BaseException | None) -> Verdict:
    text = f"{type(error).__name__}: {error}" if error else "no response"
    cls = FailureClass.TRANSIENT if _nothing_sent(error) else FailureClass.AMBIGUOUS
    return Verdict(cls, message=text)


def _nothing_sent(error: BaseException | None) -> bool:
    """True only when the request surely never left: no TCP connection, no TLS session.
    Anything else (read timeout, reset, disconnect, broken chunking, other TLS errors)
    may come after the server acted on it: ambiguous."""
    # urllib3's retries are off, so no MaxRetryError comes from worker.http; if one ever
    # does, its reason is what happened.
    while isinstance(error, MaxRetryError) and error.reason is not None:
        error = error.reason
    if isinstance(error, SSLError):
        # A certificate is checked in the handshake, before a byte of the request.
        return bool(error.args) and isinstance(error.args[0], _CERT_REJECTED)
    # ProxyError: urllib3 raises it only while the proxy is not reached yet.
    # ConnectTimeoutError covers NewConnectionError (refused) and NameResolutionError.
    return isinstance(error, ConnectTimeoutError | ProxyError | ConnectionRefusedError
                      | socket.gaierror)


_CERT_REJECTED = (ssl.SSLCertVerificationError, CertificateError)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds, from either form (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _snippet(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", "replace").strip()
