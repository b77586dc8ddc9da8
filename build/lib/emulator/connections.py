"""The socket server's connections: admitted up to a cap, refused with a 503 past it, all shut
on stop.

Each admitted connection has its own thread, so the cap bounds the emulator's threads: without
it, clients that open connections and never close them would add threads for ever (review L8).
A refused connection costs no thread: the accept loop writes the 503 itself, then keeps the
socket open a moment before closing it (see `Refusals`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from typing import Any

from emulator import http11
from emulator.exchange import JSON_TYPE, envelope
from emulator.state import EmulatorState

LINGER_S = 1.0  # how long a refused socket stays open after its 503, for the client to read it
MAX_LINGERING = 1024  # refused sockets kept lingering at once; past it the oldest closes at once
DRAIN_RECVS = 16  # reads of unread input before a close; bounded, it runs on the accept thread


class CappedServer(socketserver.ThreadingTCPServer):
    """A thread per connection, at most `max_connections` of them at once."""

    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # bursts of new connections from many worker processes

    def __init__(
        self,
        host: str,
        port: int,
        handler: type[socketserver.BaseRequestHandler],
        state: EmulatorState,
        limits: tuple[int, float],
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.state = state
        max_connections, self.idle_timeout_s = limits
        self.connections = Connections(max_connections)
        self.refusals = Refusals()
        super().__init__((host, port), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Runs in the accept thread: admit (a thread of its own) or refuse with a 503."""
        if not self.connections.admit(request):
            self.refusals.refuse(request, time.monotonic())
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: nothing else will release it
            self.connections.release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release(request)

    def service_actions(self) -> None:
        self.refusals.close_due(time.monotonic())  # serve_forever calls it between accepts

    def server_close(self) -> None:
        super().server_close()
        self.refusals.close_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class Connections:
    """The admitted connections, counted in the accept thread so a burst cannot overshoot."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._refusing = False  # warn once per episode of refusals, not once per connection

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def admit(self, conn: socket.socket) -> bool:
        with self._lock:
            if len(self._open) >= self.cap:
                self._warn_once()
                return False
            self._open.add(conn)
            self._refusing = False
            return True

    def release(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def shut_all(self) -> None:
        """Wake every handler thread blocked on its connection (stop())."""
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by its handler
                conn.shutdown(socket.SHUT_RDWR)

    def _warn_once(self) -> None:
        if not self._refusing:
            self._refusing = True
            print(f"emulator: {self.cap} connections open; new ones get 503", file=sys.stderr)


class Refusals:
    """503s written by the accept thread, and the refused sockets waiting to be closed.

    Closing right after the 503 would reset the connection (RST) if the client's request is
    still unread, and a reset can discard the 503 before the client reads it. So the socket
    sends the 503 and a FIN, lingers `LINGER_S`, then its unread input is drained and it closes.
    Only the accept thread touches this (`serve_forever` calls `close_due` between accepts).
    """

    ANSWER = http11.format_reply(
        503,
        {"Content-Type": JSON_TYPE},
        json.dumps(envelope(503, "emulator: too many open connections")).encode(),
        close=True,
    )

    def __init__(self) -> None:
        self._lingering: deque[tuple[float, socket.socket]] = deque()

    def refuse(self, conn: socket.socket, now: float) -> None:
        try:
            conn.setblocking(False)  # a fresh socket's send buffer has room: this never waits
            conn.send(self.ANSWER)
            conn.shutdown(socket.SHUT_WR)
        except OSError:  # the client is already gone
            conn.close()
            return
        self._lingering.append((now + LINGER_S, conn))
        if len(self._lingering) > MAX_LINGERING:
            _drain_and_close(self._lingering.popleft()[1])

    def close_due(self, now: float) -> None:
        while self._lingering and self._lingering[0][0] <= now:
            _drain_and_close(self._lingering.popleft()[1])

    def close_all(self) -> None:
        while self._lingering:
            _drain_and_close(self._lingering.popleft()[1])


def _drain_and_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # nothing left to read (non-blocking), or a reset
        for _ in range(DRAIN_RECVS):
            if not conn.recv(65536):
                break
    conn.close()
