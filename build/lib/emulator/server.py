"""The socket layer: a threaded HTTP/1.1 server, `EmulatorServer` and the blocking `serve()`.

Speed comes from keep-alive (HTTP/1.1 with an exact Content-Length), one write per response
with Nagle off (two small writes would meet the client's delayed ACK: ~40 ms stalls), a lean
parser (`http11.py`) and no per-request logging. Each connection has its own daemon thread, so a
hanging request holds only its own connection, as on a real server. The threads are bounded:
at most `max_connections` connections (`connections.py`), each closed once a read from or a
send to its client makes no progress for `idle_timeout_s`.
"""

from __future__ import annotations

import signal
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from emulator import http11
from emulator.connections import CappedServer
from emulator.control import PREFIX, handle_control
from emulator.exchange import Incoming, Reply, Stream, error_reply
from emulator.notify import handle_api
from emulator.state import EmulatorState

# Long on purpose: closing an idle keep-alive connection races with a client that reuses it at
# that very moment, which a worker would see as an ambiguous failure (a flaky test). A client
# that comes back later finds the connection closed before reusing it (urllib3 checks), so only
# the moment of the close races, and at five minutes that is rare; yet an abandoned client (one
# that never sends FIN or RST) no longer holds a thread for ever (review L8).
DEFAULT_IDLE_TIMEOUT_S = 300.0
# Each connection is a thread. Far above what the benchmarks open (bench_ratelimit: 4 workers x
# 96 pooled sends = 384), so only a leak or a flood meets it.
DEFAULT_MAX_CONNECTIONS = 1024
POLL_INTERVAL_S = 0.05  # how long stop() may wait for the accept loop to notice


class _Handler(socketserver.StreamRequestHandler):
    """One connection: requests in a loop while the client keeps it alive."""

    disable_nagle_algorithm = True
    server: CappedServer

    def setup(self) -> None:
        super().setup()
        # Every recv and send gives up after it: a TimeoutError, an OSError, ends the connection.
        self.connection.settimeout(self.server.idle_timeout_s)

    def handle(self) -> None:
        while self._serve_one():
            pass

    def _serve_one(self) -> bool:
        """Read, answer and write one request; False when the connection must end."""
        try:
            head = http11.read_head(self.rfile)
            if head is None:
                return False
            arrived = time.time()
            if head.header("Expect").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = http11.read_body(self.rfile, head)
        except http11.BadRequest as exc:
            return self._write(error_reply(400, str(exc)), keep_alive=False)
        except OSError:  # reset by the client, or stop() shutting the socket
            return False
        path, _, query = head.target.partition("?")
        req = Incoming(head.method, path, query, head.headers, body, arrived,
                       peer=str(self.client_address[0]))
        return self._write(self._answer(req), head.keep_alive, head.method == "HEAD")

    def _answer(self, req: Incoming) -> Reply:
        handler = handle_control if req.path.startswith(PREFIX) else handle_api
        try:
            return handler(self.server.state, req)
        except Exception:  # a bug in the emulator: say so loudly, keep serving
            traceback.print_exc(file=sys.stderr)
            return error_reply(500, "emulator internal error (traceback on its stderr)")

    def _write(self, reply: Reply, keep_alive: bool, head_only: bool = False) -> bool:
        if reply.status is None:  # scripted "close": no status line, just drop the connection
            return False
        if reply.stream is not None:
            return self._write_stream(reply.status, reply.headers, reply.stream, keep_alive)
        data = http11.format_reply(reply.status, reply.headers, reply.body, close=not keep_alive)
        if head_only:
            data = data[: len(data) - len(reply.body)]
        try:
            self.wfile.write(data)
        except OSError:  # the client gave up (e.g. its read timeout during a hang)
            return False
        return keep_alive

    def _write_stream(
        self, status: int, headers: dict[str, str], stream: Stream, keep_alive: bool
    ) -> bool:
        head = http11.format_head(status, headers, stream.length, close=not keep_alive)
        pieces = http11.chunked(stream.pieces) if stream.length is None else stream.pieces
        try:
            self.wfile.write(head)
            for piece in pieces:  # may pause (drip): the head is already with the client
                self.wfile.write(piece)
        except OSError:  # the client left mid-body, or stop(): the rest is not sent
            return False
        return keep_alive


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
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        also_listen: Sequence[str] = (),
    ) -> None:
        self.host, self._port = host, port
        self.also_listen = tuple(also_listen)  # more addresses, on the same port
        self._limits = _checked_limits(max_connections, idle_timeout_s)
        self.state = EmulatorState(token=token, latency_ms=latency_ms, record_bodies=record_bodies)
        if faults:  # a bad fault fails here, before anything listens
            self.state.faults.add(list(faults), self.state.clock())
        self._httpd: CappedServer | None = None
        self._others: list[CappedServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("emulator already started")
        self._httpd = CappedServer(self.host, self._port, _Handler, self.state, self._limits)
        try:
            # One state behind every address: one request log, one fault script, whichever
            # address a client used (the fault suite's simulated hosts each use their own).
            # The connection cap counts per address.
            for host in self.also_listen:
                self._others.append(
                    CappedServer(host, self.port, _Handler, self.state, self._limits)
                )
        except OSError:
            self._close_all()
            raise
        servers = (self._httpd, *self._others)
        for host, httpd in zip((self.host, *self.also_listen), servers, strict=True):
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL_S},
                name=f"emulator:{host}:{self.port}",
                daemon=True,
            )
            with _signals_blocked():
                thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop accepting, wake sleeping handlers, drop open connections. Idempotent."""
        if self._httpd is None:
            return
        self.state.stopping.set()
        for httpd in (self._httpd, *self._others):
            httpd.shutdown()
            httpd.connections.shut_all()
        self._close_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def _close_all(self) -> None:
        for httpd in (self._httpd, *self._others):
            if httpd is not None:
                httpd.server_close()
        self._httpd, self._others = None, []

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("emulator not started")
        return int(self._httpd.server_address[1])

    @property
    def open_connections(self) -> int:
        """Connections admitted and not yet ended (each has a thread); refused ones not counted."""
        if self._httpd is None:
            raise RuntimeError("emulator not started")
        return sum(httpd.connections.count for httpd in (self._httpd, *self._others))

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
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    also_listen: Sequence[str] = (),
) -> None:
    """Run the emulator in the foreground until SIGINT or SIGTERM, then return normally.

    Prints `emulator listening on <url>` (flushed) once requests are accepted. Call it from the
    main thread: that is where signal handlers live. Options as for `EmulatorServer`.
    """
    stop = threading.Event()
    server = EmulatorServer(
        host,
        port,
        token=token,
        latency_ms=latency_ms,
        record_bodies=record_bodies,
        faults=faults,
        max_connections=max_connections,
        idle_timeout_s=idle_timeout_s,
        also_listen=also_listen,
    )
    with _stop_on_signals(stop), server:
        print(f"emulator listening on {server.url}", flush=True)
        while not stop.wait(1.0):
            pass  # a timed wait: the signal handler runs between waits even on odd platforms


def _checked_limits(max_connections: int, idle_timeout_s: float) -> tuple[int, float]:
    whole = isinstance(max_connections, int) and not isinstance(max_connections, bool)
    if not whole or max_connections < 1:
        raise ValueError(f"max_connections: expected an integer >= 1, got {max_connections!r}")
    if not idle_timeout_s > 0:  # also refuses NaN
        raise ValueError(f"idle_timeout_s: expected a number > 0, got {idle_timeout_s!r}")
    return max_connections, float(idle_timeout_s)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Start threads with SIGINT/SIGTERM blocked; they and their handler threads inherit that.

    Otherwise the kernel may hand a process signal to a server thread, and the main thread only
    runs the Python handler once its own wait times out (seen: a 1 s delay on SIGINT).
    """
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX: nothing to do
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
