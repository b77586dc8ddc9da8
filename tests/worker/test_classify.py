"""The failure classification table, row by row (DESIGN.md "Failure classification")."""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import pytest
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from worker.classify import SendResult, classify, parse_retry_after
from worker.failures import FailureClass as C


def response(status: int, body: object = b"", **headers: str) -> SendResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return SendResult(duration_ms=1.0, status=status, body=raw,
                      headers={k.lower().replace("_", "-"): v for k, v in headers.items()})


def envelope(code: int, message: str = "nope") -> dict:
    return {"code": code, "message": message, "details": []}


def failure(error: BaseException) -> SendResult:
    return SendResult(duration_ms=1.0, error=error)


# The errors as urllib3 (retries off) raises them; tests/worker/test_http.py gets the
# common ones from real sockets.
def refused() -> NewConnectionError:
    return NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")


def unresolved() -> NameResolutionError:
    return NameResolutionError("api.example", None, socket.gaierror(-2, "Name not known"))


def read_timeout() -> ReadTimeoutError:
    return ReadTimeoutError(None, "/messaging/v2/notify", "Read timed out.")


def reset_after_send() -> ProtocolError:
    return ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))


def cert_rejected() -> SSLError:
    return SSLError(ssl.SSLCertVerificationError(1, "certificate verify failed"))


TABLE = [
    ("200 with message code", response(200, {"message_code": "AB-1"}), C.SUCCESS),
    ("200 wrapped in result", response(200, {"result": {"message_code": "AB-2"}}), C.SUCCESS),
    ("201", response(201, {}), C.SUCCESS),
    ("200 garbage body", response(200, b"<html>oops"), C.SUCCESS),
    ("200 empty body", response(200, b""), C.SUCCESS),
    ("400 INVALID_ARGUMENT", response(400, envelope(3)), C.PERMANENT),
    ("400 no body", response(400), C.PERMANENT),
    ("404 NOT_FOUND", response(404, envelope(5)), C.PERMANENT),
    ("409 ALREADY_EXISTS", response(409, envelope(6)), C.PERMANENT),
    ("409 ABORTED is worth a retry", response(409, envelope(10)), C.TRANSIENT),
    ("400 FAILED_PRECONDITION", response(400, envelope(9)), C.PERMANENT),
    ("400 OUT_OF_RANGE", response(400, envelope(11)), C.PERMANENT),
    ("422 other 4xx", response(422), C.PERMANENT),
    ("501 UNIMPLEMENTED", response(501, envelope(12)), C.PERMANENT),
    ("401 UNAUTHENTICATED", response(401, envelope(16)), C.SYSTEMIC),
    ("403 PERMISSION_DENIED", response(403, envelope(7)), C.SYSTEMIC),
    ("401 without a body", response(401), C.SYSTEMIC),
    ("429 RESOURCE_EXHAUSTED", response(429, envelope(8), Retry_After="2"), C.THROTTLED),
    ("429 without a body", response(429), C.THROTTLED),
    ("500 INTERNAL", response(500, envelope(13)), C.TRANSIENT),
    ("500 UNKNOWN", response(500, envelope(2)), C.TRANSIENT),
    ("503 UNAVAILABLE", response(503, envelope(14)), C.TRANSIENT),
    ("504 DEADLINE_EXCEEDED", response(504, envelope(4)), C.TRANSIENT),
    ("502 html from a proxy", response(502, b"<html>bad gateway</html>"), C.TRANSIENT),
    ("408 request timeout", response(408), C.TRANSIENT),
    ("connection refused", failure(refused()), C.TRANSIENT),
    ("name not resolved", failure(unresolved()), C.TRANSIENT),
    ("connect timeout", failure(ConnectTimeoutError(None, "connect timed out")), C.TRANSIENT),
    ("proxy unreachable", failure(ProxyError("Unable to connect to proxy", refused())),
     C.TRANSIENT),
    ("TLS certificate rejected", failure(cert_rejected()), C.TRANSIENT),
    ("refused, wrapped in MaxRetryError", failure(MaxRetryError(None, "/", refused())),
     C.TRANSIENT),
    ("read timeout", failure(read_timeout()), C.AMBIGUOUS),
    ("read timeout, wrapped in MaxRetryError", failure(MaxRetryError(None, "/", read_timeout())),
     C.AMBIGUOUS),
    ("reset after the body was sent", failure(reset_after_send()), C.AMBIGUOUS),
    ("closed without a response",
     failure(ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))),
     C.AMBIGUOUS),
    ("truncated body",
     failure(ProtocolError("Connection broken", http.client.IncompleteRead(b"{", 10))),
     C.AMBIGUOUS),
    ("undecodable body", failure(DecodeError("bad gzip")), C.AMBIGUOUS),
    ("TLS error mid-stream", failure(SSLError(ssl.SSLEOFError(8, "EOF"))), C.AMBIGUOUS),
    ("socket error", failure(ProtocolError("Connection aborted.", OSError("broken pipe"))),
     C.AMBIGUOUS),
    ("no response and no error", SendResult(duration_ms=1.0), C.AMBIGUOUS),
]


@pytest.mark.parametrize(("name", "result", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_each_outcome_is_classified_as_the_design_table_says(name, result, expected):
    assert classify(result).cls is expected


def test_the_error_envelope_fields_are_carried_in_the_verdict():
    verdict = classify(response(429, envelope(8, "slow down"), Retry_After="7"))
    assert (verdict.http_status, verdict.grpc_code, verdict.message) == (429, 8, "slow down")
    assert verdict.retry_after_s == 7.0


def test_a_success_carries_the_message_code_from_either_envelope():
    assert classify(response(200, {"message_code": "X-1"})).message_code == "X-1"
    assert classify(response(200, {"result": {"message_code": "X-2"}})).message_code == "X-2"


def test_only_unanswered_sends_are_flagged_ambiguous():
    assert classify(failure(read_timeout())).ambiguous
    assert not classify(failure(refused())).ambiguous
    assert not classify(response(503)).ambiguous


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now) == 5.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
