"""Just enough HTTP/1.1 framing for the emulator: read a request head and body, write a reply.

Why not `http.server.BaseHTTPRequestHandler`: its header parsing goes through the `email`
package and was over half of the server's CPU per request (profiled). Clients here are our own
worker, `requests`, curl and the benchmarks, so a small strict parser is enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from io import BufferedIOBase

MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
MAX_BODY_BYTES = 32 * 1024 * 1024  # well above the 10 MB v1.3 limit (spec §14)
_PHRASES = {s.value: s.phrase for s in HTTPStatus}
_END_OF_HEAD = (b"\r\n", b"\n", b"")
# RFC 9112 §7.1: chunk-size = 1*HEXDIG. int(x, 16) alone also takes "-1", "+5", "0x5" and "1_0";
# "-1" made rfile.read(-1) read to the end of the connection, past MAX_BODY_BYTES (review L8).
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class BadRequest(Exception):
    """The request cannot be framed: answer 400 and close the connection."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    target: str  # path and query, as sent
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str, default: str = "") -> str:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), default)

    @property
    def keep_alive(self) -> bool:
        connection = self.header("Connection").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


def read_head(rfile: BufferedIOBase) -> RequestHead | None:
    """The next request line and headers; None at a clean end of the connection."""
    line = _line(rfile)
    while line in (b"\r\n", b"\n"):  # RFC 9112 §2.2: ignore empty lines before a request
        line = _line(rfile)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"malformed request line: {line[:80]!r}")
    return RequestHead(parts[0], parts[1], parts[2], _headers(rfile))


def _headers(rfile: BufferedIOBase) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for _ in range(MAX_HEADERS):
        line = _line(rfile)
        if line in _END_OF_HEAD:
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise BadRequest(f"malformed header line: {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    raise BadRequest(f"more than {MAX_HEADERS} headers")


def _line(rfile: BufferedIOBase) -> bytes:
    line = rfile.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise BadRequest("line too long")
    return line


def read_body(rfile: BufferedIOBase, head: RequestHead) -> bytes:
    """The whole body, so the next request on a keep-alive connection starts in the right place."""
    if "chunked" in head.header("Transfer-Encoding").lower():
        return _read_chunked(rfile)
    raw = head.header("Content-Length")
    if not raw:
        return b""
    try:
        length = int(raw)
    except ValueError:
        raise BadRequest(f"invalid Content-Length: {raw[:40]!r}") from None
    if not 0 <= length <= MAX_BODY_BYTES:
        raise BadRequest(f"Content-Length out of range: {length}")
    return _exactly(rfile, length)


def _exactly(rfile: BufferedIOBase, size: int) -> bytes:
    data = rfile.read(size)
    if len(data) < size:
        raise ConnectionError("client closed the connection mid-body")
    return data


def _read_chunked(rfile: BufferedIOBase) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while size := _chunk_size(rfile):
        total += size
        if total > MAX_BODY_BYTES:
            raise BadRequest("chunked body too large")
        chunks.append(_exactly(rfile, size))
        _line(rfile)  # the CRLF closing the chunk
    while _line(rfile) not in _END_OF_HEAD:
        pass  # trailer fields: ignored
    return b"".join(chunks)


def _chunk_size(rfile: BufferedIOBase) -> int:
    line = _line(rfile)
    digits = line.split(b";", 1)[0].strip()  # ";name=value" chunk extensions: ignored
    if not _CHUNK_SIZE.fullmatch(digits):
        raise BadRequest(f"invalid chunk size line: {line[:40]!r}")
    return int(digits, 16)


def format_reply(status: int, headers: dict[str, str], body: bytes, close: bool) -> bytes:
    """The whole response as one buffer: one send, so Nagle and delayed ACK never meet."""
    return format_head(status, headers, len(body), close) + body


def format_head(status: int, headers: dict[str, str], length: int | None, close: bool) -> bytes:
    """Status line and headers; `length` None announces a chunked body (see `chunked`)."""
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    lines = [
        f"HTTP/1.1 {status} {_PHRASES.get(status, 'Unknown')}",
        "Server: notify-relay-emulator",
        framing,
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if close:
        lines.append("Connection: close")
    # latin-1, as http.client sends headers: a scripted "²" goes out as the one byte 0xB2.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Each piece as one chunk, then the last chunk: the body of a `Transfer-Encoding: chunked`."""
    for piece in pieces:
        if piece:  # an empty chunk would end the body early
            yield b"%X\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"
