"""Failure classification: one pure function from a send's result to a `Verdict`.

The table (DESIGN.md "Failure classification"); a gRPC code in the error envelope
wins over the HTTP status when both are present, since it is the more precise one:

| what came back                                               | class      |
|--------------------------------------------------------------|------------|
| 2xx (message code and unknown identifiers read from the body | success    |
|   if any: worker/unknown_ids.py)                             |            |
| 400 404 409 501, other 4xx / INVALID_ARGUMENT NOT_FOUND       | permanent  |
|   ALREADY_EXISTS FAILED_PRECONDITION OUT_OF_RANGE UNIMPLEMENTED |          |
| 401 403 / UNAUTHENTICATED PERMISSION_DENIED                  | systemic   |
| 429 / RESOURCE_EXHAUSTED                                     | throttled  |
| 408, 5xx / UNAVAILABLE INTERNAL UNKNOWN DEADLINE_EXCEEDED     | transient  |
|   ABORTED DATA_LOSS CANCELLED                                |            |
| connect error, connect timeout, TLS certificate rejected     | transient  |
|   (nothing was sent)                                         |            |
| read timeout, reset / disconnect after sending, protocol or  | ambiguous  |
|   other TLS error, send deadline passed (H1) (the server may  |            |
|   have acted on it)                                          |            |
| request headers refused by http.client (M1: the token)      | systemic   |

The body is only a hint, and `classify` never raises on it (M8). A body that cannot be
read (over worker.http's cap, a Content-Encoding we did not ask for, not JSON, nested
too deep) leaves the status alone to decide: a 2xx is still a success, with a note.

Send errors are urllib3's (worker.http uses it directly, with its retries off).
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import socket
import ssl
import time
from dataclasses import dataclass, replace
from typing import Any

from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProxyError, SSLError
from urllib3.util.ssl_match_hostname import CertificateError

from worker.failures import FailureClass
from worker.unknown_ids import Reported
from worker.unknown_ids import read as read_unknown

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


class SendDeadlineError(Exception):
    """H1: the send's wall-clock budget ran out and its socket was shut down.

    The request may have reached the server and been acted on: ambiguous.
    """


class RequestHeaderError(Exception):
    """M1: http.client refused to build the request headers; nothing was sent.

    Its text is fixed: the refused value is the Authorization header, i.e. the token.
    Every send fails the same way until the token is fixed: systemic.
    """


@dataclass(frozen=True)
class SendResult:
    """What one POST produced: a response, or the exception that replaced it.

    `body` holds at most worker.http's cap; `body_skipped` says why a body the server
    sent is not in `body` (M2: over the cap), else None.
    """

    duration_ms: float
    status: int | None = None
    headers: dict[str, str] | None = None
    body: bytes = b""
    error: BaseException | None = None
    body_skipped: str | None = None

    @property
    def deadline_passed(self) -> bool:
        return isinstance(self.error, SendDeadlineError)


@dataclass(frozen=True)
class Verdict:
    cls: FailureClass
    http_status: int | None = None
    grpc_code: int | None = None
    message: str | None = None
    message_code: str | None = None
    retry_after_s: float | None = None
    #: a 2xx's `unknown_identifiers` (either shape), when it had any
    unknown: Reported | None = None

    @property
    def ambiguous(self) -> bool:
        return self.cls is FailureClass.AMBIGUOUS

    def capped(self, cap_s: float) -> Verdict:
        """This verdict with `retry_after_s` clamped to [0, cap_s] (`clamp_retry_after`)."""
        return replace(self, retry_after_s=clamp_retry_after(self.retry_after_s, cap_s))


def classify(result: SendResult, now: float | None = None) -> Verdict:
    """Never raises, whatever the server sent (M8): a response it cannot read is
    classified on its status alone."""
    if result.error is not None or result.status is None:
        return _classify_error(result.error)
    try:
        return _classify_response(result, result.status, now)
    except Exception as exc:  # M8: a delivered job must never look like a bug's victim
        return _status_only(result.status, f"response not understood ({type(exc).__name__})")


def _classify_response(result: SendResult, status: int, now: float | None) -> Verdict:
    headers = result.headers or {}
    unread = result.body_skipped or _foreign_encoding(headers)
    envelope = {} if unread else _json_object(result.body)
    if 200 <= status < 300:
        return _success(status, envelope, result.body, unread)
    grpc_code = _grpc_code(envelope)
    message = envelope.get("message") if isinstance(envelope.get("message"), str) else None
    text = message or (None if unread else _snippet(result.body)) or f"HTTP {status}"
    return Verdict(
        cls=_GRPC_CLASS.get(grpc_code or 0) or _http_class(status),
        http_status=status,
        grpc_code=grpc_code,
        message=f"{text}; {unread}" if unread else text,
        retry_after_s=parse_retry_after(headers.get("retry-after"), now),
    )


def _status_only(status: int, note: str) -> Verdict:
    if 200 <= status < 300:
        return Verdict(FailureClass.SUCCESS, http_status=status, message=f"success status; {note}")
    return Verdict(_http_class(status), http_status=status, message=f"HTTP {status}; {note}")


def _foreign_encoding(headers: dict[str, str]) -> str | None:
    """M2: the body is not decoded (worker.http asks for identity), so a Content-Encoding
    other than identity leaves it unreadable."""
    encoding = headers.get("content-encoding", "").strip()
    if encoding.lower() in ("", "identity"):
        return None
    return f"body in Content-Encoding {ascii(encoding[:_ENCODING_SHOWN_CHARS])}, not read"


_ENCODING_SHOWN_CHARS = 32


def _grpc_code(envelope: dict[str, Any]) -> int | None:
    code = envelope.get("code")
    return code if type(code) is int else None  # not a bool: JSON true is no gRPC code


def _success(status: int, envelope: dict[str, Any], body: bytes, unread: str | None) -> Verdict:
    # Top level per the spec's reading of gRPC-gateway (§12); `result.` is a fallback
    # for the wrapped shape some clients expect.
    wrapped = envelope.get("result")
    nested: dict[str, Any] = wrapped if isinstance(wrapped, dict) else {}
    code = envelope.get("message_code") or nested.get("message_code")
    note = None
    if unread:
        note = f"success status; {unread}"
    elif not body.strip():
        note = "success status with an empty body"
    elif not envelope:
        note = "success status with an unreadable body"
    # str or int only: str() of a deeply nested value can itself raise RecursionError (M8).
    readable = isinstance(code, str | int) and not isinstance(code, bool)
    return Verdict(FailureClass.SUCCESS, http_status=status,
                   message_code=str(code) if code and readable else None, message=note,
                   unknown=read_unknown(envelope))


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
    if isinstance(error, RequestHeaderError):
        return Verdict(FailureClass.SYSTEMIC, message=text)
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


#: M7: delta-seconds in ASCII digits only ("²".isdigit() is True, and float("²") raises);
#: more than 16 digits (300 million years) is garbage, not a delay.
_DELTA_SECONDS = re.compile(r"[0-9]{1,16}")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds, from either form (delta-seconds or HTTP-date), else None.

    Never raises. A date in the past is 0; anything else (a sign, a fraction, other
    digits than ASCII, a bad date) is None. Not capped: see `clamp_retry_after`.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        delay_s = when.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    return max(0.0, delay_s) if math.isfinite(delay_s) else None


def clamp_retry_after(retry_after_s: float | None, cap_s: float) -> float | None:
    """M7: `retry_after_s` within [0, cap_s]; None (and NaN) stay None.

    The caller passes min(NOTIFY_BACKOFF_MAX, the job's remaining life): one
    `Retry-After: 31536000` must not park an application for a year. A cap below 0 (a
    job already past its deadline) gives 0.
    """
    if retry_after_s is None or math.isnan(retry_after_s):
        return None
    return min(max(0.0, retry_after_s), max(0.0, cap_s))


def _json_object(body: bytes) -> dict[str, Any]:
    """The body's JSON object, or {} when there is none to read.

    M8: any failure is "unreadable", never an exception: RecursionError on deep nesting
    (`[` * 100000), ValueError on an int past Python's digit limit, a bad encoding.
    """
    try:
        value = json.loads(body) if body else {}
    except Exception:
        return {}
    return value if isinstance(value, dict) else {}


def _snippet(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", "replace").strip()
