"""The socket layer: a threaded HTTP/1.1 server, `EmulatorServer` and the blocking `serve()`.

Speed comes from keep-alive (HTTP/1.1 with an exact Content-Length), one write per response
with Nagle off (two small writes would meet the client's delayed ACK: ~40 ms stalls), and no
per-request logging. Each connection has its own daemon thread, so a hanging request holds only
its own connection, as on a real server.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from emulator.control import PREFIX, handle_control
from emulator.exchange import Incoming, Reply, error_reply
from emulator.notify import handle_api
from emulator.state import EmulatorState

IDLE_TIMEOUT_S = 120.0  # an idle keep-alive connection (and its thread) is dropped after this
MAX_BODY_BYTES = 32 * 1024 * 1024  # well above the 10 MB v1.3 limit (spec §14)
POLL_INTERVAL_S = 0.05  # how long stop() may wait for the accept loop to notice
_PHRASES = {s.value: s.phrase for s in HTTPStatus}


class _BadRequest(Exception):
    """The request cannot be framed (bad Content-Length or chunking): answer 400 and close."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "notify-relay-emulator"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        """Silent: logging each request would cost throughput and could print request lines."""

    def _dispatch(self) -> None:
        arrived = time.time()
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self._write(replace(error_reply(400, str(exc)), close=True))
            return
        path, _, query = self.path.partition("?")
        req = Incoming(self.command, path, query, self.headers.items(), body, arrived)
        self._write(self._answer(req))

    def _answer(self, req: Incoming) -> Reply:
        handler = handle_control if req.path.startswith(PREFIX) else handle_api
        try:
            return handler(self.server.state, req)
        except Exception:  # a bug in the emulator: say so loudly, keep serving
            traceback.print_exc(file=sys.stderr)
            return error_reply(500, "emulator internal error (traceback on its stderr)")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BadRequest(f"invalid Content-Length: {raw[:40]!r}") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise _BadRequest(f"Content-Length out of range: {length}")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while size := self._chunk_size():
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailer fields: ignored
        return b"".join(chunks)

    def _chunk_size(self) -> int:
        line = self.rfile.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest("invalid chunked encoding") from None
        if not 0 <= size <= MAX_BODY_BYTES:
            raise _BadRequest("chunk too large")
        return size

    def _write(self, reply: Reply) -> None:
        if reply.status is None:  # scripted "close": no status line, just drop the connection
            self.close_connection = True
            return
        if reply.close:
            self.close_connection = True
        body = b"" if self.command == "HEAD" else reply.body
        try:
            self.wfile.write(self._head(reply) + body)
        except OSError:  # the client gave up (e.g. its read timeout during a hang)
            self.close_connection = True

    def _head(self, reply: Reply) -> bytes:
        status = reply.status or 500
        lines = [
            f"{self.protocol_version} {status} {_PHRASES.get(status, 'Unknown')}",
            f"Server: {self.server_version}",
            f"Content-Length: {len(reply.body)}",
            *(f"{name}: {value}" for name, value in reply.headers.items()),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # bursts of new connections from many worker processes

    def __init__(self, host: str, port: int, state: EmulatorState) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """Wake every handler thread blocked on an idle keep-alive connection."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by its handler
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class EmulatorServer:
    """The emulator in a background thread, for in-process use: `with EmulatorServer() as emu:`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        latency_ms: float = 0.0,
        record_bodies: bool = True,
        faults: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.host, self._port = host, port
        self.state = EmulatorState(token=token, latency_ms=latency_ms, record_bodies=record_bodies)
        if faults:  # a bad fault fails here, before anything listens
            self.state.faults.add(list(faults), self.state.clock())
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("emulator already started")
        self._httpd = _Server(self.host, self._port, self.state)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_S},
            name=f"emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake sleeping handlers, drop open connections. Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.state.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("emulator not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> Self:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    token: str | None = None,
    latency_ms: float = 0.0,
    record_bodies: bool = True,
    faults: Sequence[dict[str, Any]] = (),
) -> None:
    """Run the emulator in the foreground until SIGINT or SIGTERM, then return normally.

    Prints `emulator listening on <url>` (flushed) once requests are accepted. Call it from the
    main thread: that is where signal handlers live.
    """
    stop = threading.Event()
    server = EmulatorServer(
        host, port, token=token, latency_ms=latency_ms, record_bodies=record_bodies, faults=faults
    )
    with _stop_on_signals(stop), server:
        print(f"emulator listening on {server.url}", flush=True)
        while not stop.wait(1.0):
            pass  # a timed wait: the signal handler runs between waits even on odd platforms


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
