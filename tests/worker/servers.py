"""Minimal loopback HTTP servers that misbehave on purpose (stdlib sockets only).

`FaultServer(behaviour)` accepts connections on 127.0.0.1 in a thread and runs
`behaviour(conn, server)` for each, after reading the whole request (recorded in
`server.requests`). The behaviours below are what the security review found a server,
a proxy or a middlebox can do to a send: drip the head or the body (H1), send gzip or
a huge body (M2), nest JSON deeply (M8).
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Behaviour = Callable[[socket.socket, "FaultServer"], None]


@dataclass
class Request:
    head: bytes
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        return {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)
                if k}


def read_request(conn: socket.socket) -> Request:
    """The whole request (head, then a Content-Length body); EOF ends it early."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return Request(data, b"")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(Request(head, b"").headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(head, body)


@dataclass
class FaultServer:
    behaviour: Behaviour
    tls: ssl.SSLContext | None = None
    #: Seconds to wait after accept before the TLS handshake: a slow connect.
    handshake_delay_s: float = 0.0
    requests: list[Request] = field(default_factory=list)
    #: When a behaviour found the client gone (its send failed): the drip stopped.
    client_gone_at: float | None = None
    sent_bytes: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close does not)
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                time.sleep(self.handshake_delay_s)
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                request = read_request(conn)
                if request.head:
                    self.requests.append(request)
                    self.behaviour(conn, self)
        except OSError:
            self.client_gone_at = time.monotonic()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent_bytes += len(data)

    def stopped(self) -> bool:
        return self._stop.is_set()


def head(status: int = 200, length: int | None = None, **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def respond(status: int, body: bytes, **headers: str) -> Behaviour:
    def behaviour(conn: socket.socket, server: FaultServer) -> None:
        server.send(conn, head(status, len(body), **headers) + body)

    return behaviour


def drip_body(every_s: float, length: int = 1000) -> Behaviour:
    """Head at once, then the body one byte per `every_s` (each recv well inside the
    read timeout): urllib3 alone never times this out."""
    def behaviour(conn: socket.socket, server: FaultServer) -> None:
        server.send(conn, head(200, length))
        _drip(conn, server, b"x" * length, every_s)

    return behaviour


def drip_head(every_s: float) -> Behaviour:
    """The status line, then header bytes one at a time: inside urlopen's own read."""
    def behaviour(conn: socket.socket, server: FaultServer) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\n")
        _drip(conn, server, b"X-Slow: " + b"z" * 10_000, every_s)

    return behaviour


def _drip(conn: socket.socket, server: FaultServer, data: bytes, every_s: float) -> None:
    for index in range(len(data)):
        if server.stopped():
            return
        server.send(conn, data[index:index + 1])
        time.sleep(every_s)


def gzip_json(status: int, document: bytes) -> Behaviour:
    """A gzip body the client never asked for (it sends Accept-Encoding: identity)."""
    return respond(status, gzip.compress(document), Content_Encoding="gzip")


def endless_body(status: int = 200) -> Behaviour:
    """A chunked body without end, as fast as the client reads: a huge body, no length."""
    def behaviour(conn: socket.socket, server: FaultServer) -> None:
        server.send(conn, head(status, Transfer_Encoding="chunked"))
        chunk = b"%x\r\n%s\r\n" % (65536, b"[" * 65536)
        while not server.stopped():
            server.send(conn, chunk)

    return behaviour


class KeepAliveServer:
    """A well-behaved HTTP/1.1 server (keep-alive) answering 200; counts connections."""

    def __init__(self) -> None:
        self.connections: set[tuple[str, int]] = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                server.connections.add(self.client_address)
                self.rfile.read(int(self.headers["Content-Length"]))
                body = b'{"message_code": "KA-1"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> KeepAliveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
