"""Raw-socket helpers: what a client sees on the wire, byte for byte, with no HTTP library between.

Every read has a deadline (the socket timeout), so a server that never answers fails the test
instead of hanging it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from tests.emulator.conftest import NOTIFY_PATH, TOKEN

READ_TIMEOUT_S = 10.0  # per recv: generous for a loaded 2-core machine
BODY = b'{"segment": {}}'


def connect(port: int, timeout_s: float = READ_TIMEOUT_S) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout_s)


def notify_request(body: bytes = BODY, *, headers: bytes | None = None) -> bytes:
    """A whole POST to the notify path; `headers` replaces the default framing header."""
    framing = headers if headers is not None else b"Content-Length: %d\r\n" % len(body)
    return (
        b"POST " + NOTIFY_PATH.encode() + b" HTTP/1.1\r\nHost: emulator\r\n"
        b"Authorization: Token " + TOKEN.encode() + b"\r\n" + framing + b"\r\n" + body
    )


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The status line and headers (with their final CRLF CRLF), and any body bytes read past."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the end of the head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response framed by Content-Length: (head, body)."""
    head, body = read_head(sock)
    length = int(header(head, "Content-Length") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(body)} of {length} body bytes")
        body += chunk
    return head, body


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_at_least(sock: socket.socket, have: bytes, n: int, deadline_s: float) -> bytes:
    """Read on until `n` bytes are in hand or the deadline passes (then fail)."""
    deadline = time.monotonic() + deadline_s
    while len(have) < n:
        assert time.monotonic() < deadline, f"only {len(have)} of {n} bytes in {deadline_s} s"
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(have)} bytes")
        have += chunk
    return have


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Poll `condition` until true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.01)
