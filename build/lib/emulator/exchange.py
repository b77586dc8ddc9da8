"""The values passed between the socket layer and the handlers, and the error envelope.

`server.py` turns bytes into an `Incoming`; a handler returns a `Reply`; only `server.py` writes it.
That keeps the endpoint logic free of socket code and lets it say "close without answering"
(`status=None`) or "send this body piece by piece" (`stream`, for bodies too slow or too large
to build as one buffer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"

# gRPC-Gateway v2 `HTTPStatusFromCode`, read backwards (spec §13.2): the code a gateway would put
# in the envelope for a given HTTP status. Statuses not listed fall back by class below.
GRPC_CODE_FOR_STATUS = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    405: 12,  # UNIMPLEMENTED (gateway's routing error for a known path, wrong method)
    409: 6,  # ALREADY_EXISTS
    412: 9,  # FAILED_PRECONDITION
    429: 8,  # RESOURCE_EXHAUSTED
    499: 1,  # CANCELLED
    500: 13,  # INTERNAL
    501: 12,  # UNIMPLEMENTED
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}


@dataclass(frozen=True, slots=True)
class Incoming:
    """One request, fully read (the body too, so a keep-alive connection stays in step)."""

    method: str
    path: str  # without the query string
    query: str
    headers: list[tuple[str, str]]  # as received, in order
    body: bytes
    arrived: float  # time.time() once the headers were read
    peer: str = ""  # the client's IP address (tells simulated hosts apart in the fault suite)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass(frozen=True, slots=True)
class Stream:
    """A body written piece by piece after the head, one send per piece, never held whole."""

    pieces: Iterator[bytes]  # may pause between pieces; an OSError from it ends the connection
    length: int | None  # Content-Length; None: chunked transfer coding, one chunk per piece


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer. `status=None` means: close the connection without answering.

    With a `stream`, `body` is ignored and the body is the stream's pieces."""

    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Stream | None = None


Answer = Callable[[], Reply]  # the normal path, handed to a fault action to fall back on


def grpc_code_for(status: int) -> int:
    """The envelope code for an HTTP status; unknown 4xx → INVALID_ARGUMENT, 5xx → UNKNOWN."""
    if status in GRPC_CODE_FOR_STATUS:
        return GRPC_CODE_FOR_STATUS[status]
    return 2 if status >= 500 else 3


def envelope(status: int, message: str) -> dict[str, Any]:
    """The gRPC-Gateway error body for `status` (spec §13.1)."""
    return {"code": grpc_code_for(status), "message": message, "details": []}


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, envelope(status, message), headers)


def body_reply(status: int, body: Any, headers: dict[str, str]) -> Reply:
    """A scripted body: a str is sent as is (text/plain unless headers say otherwise), anything
    else as JSON. Header names are matched case-insensitively so a script can set Content-Type."""
    if isinstance(body, str):
        default_type, raw = "text/plain; charset=utf-8", body.encode()
    else:
        default_type, raw = JSON_TYPE, json.dumps(body, separators=(",", ":")).encode()
    return Reply(status, raw, with_defaults({"Content-Type": default_type}, headers))


def with_defaults(defaults: Mapping[str, str], scripted: Mapping[str, str]) -> dict[str, str]:
    """`scripted` headers over `defaults`, names compared case-insensitively (no duplicates)."""
    taken = {name.lower() for name in scripted}
    kept = {name: value for name, value in defaults.items() if name.lower() not in taken}
    return {**kept, **scripted}
