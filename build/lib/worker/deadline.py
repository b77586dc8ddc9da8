"""H1: a wall-clock deadline on each send, whatever the server does.

urllib3's read timeout bounds each `recv`, not the send: a server (or a proxy in front
of it) that drips one byte per 9 s keeps a send open for hours under a 10 s read
timeout, long past the 60 s claim lease, and another worker then POSTs again. A
deadline checked between reads cannot help while http.client itself is blocked (the
status line and headers are read inside `urlopen`), so one thread per client, the
`Reaper`, shuts down the socket of every send whose deadline passed. The blocked read
then fails at once, and the send reports the deadline.

A send is watched from before its request is written (`arm`, then `attach` from the
connection's `connect` and `request`) until its response is read (`disarm`). The socket
is shut down under the reaper's lock, only while the send is armed and still owns the
connection: a connection is unbound as it goes back to the pool (`detach`), and a send
that takes one binds it to itself (under the same lock) before using it, so the reaper
never touches a pooled socket or one another send is using. Every send of one client
has the same budget, so deadlines come in the order sends start: a FIFO whose head is
always the next one due.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time
from typing import Any

#: The armed send of this thread (a thread sends one request at a time), for `attach`.
_CURRENT = threading.local()


class Watch:
    """One send's deadline (monotonic seconds) and the connection it went out on."""

    __slots__ = ("at", "conn", "cut", "done", "fired", "reaper")

    def __init__(self, at: float, reaper: Reaper) -> None:
        self.at, self.reaper = at, reaper
        self.conn: Any = None
        self.done = False
        self.fired = False  # the deadline passed while armed: no new request may start
        self.cut = False  # ...and the reaper shut the send's socket down


class Reaper:
    """Shuts down the socket of each armed send once its deadline passes."""

    def __init__(self, name: str = "notify-deadline") -> None:
        self._queue: collections.deque[Watch] = collections.deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._name = name
        self._thread: threading.Thread | None = None  # started by the first send

    def arm(self, budget_s: float) -> Watch:
        """Watch the calling thread's next request for `budget_s` seconds from now."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            watch = Watch(time.monotonic() + budget_s, self)
            self._queue.append(watch)
            if len(self._queue) == 1:
                self._cond.notify()  # the reaper was idle, with no deadline to wait for
        _CURRENT.watch = watch
        return watch

    def disarm(self, watch: Watch) -> bool:
        """Stop watching; True if the deadline passed and the send's socket was shut down
        (what it read since may be cut short: an EOF that looks like the end)."""
        _CURRENT.watch = None
        with self._cond:
            watch.done = True
            return watch.cut

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                self._reap(time.monotonic())
                wait_s = self._queue[0].at - time.monotonic() if self._queue else None
                self._cond.wait(wait_s)

    def _reap(self, now: float) -> None:
        while self._queue and (self._queue[0].done or self._queue[0].at <= now):
            watch = self._queue.popleft()
            if not watch.done:
                watch.fired = True
                watch.cut = _shut_down(watch)

    def bind(self, conn: Any, watch: Watch | None) -> None:
        """Make `watch` (or no send) the one whose deadline may shut `conn` down."""
        with self._cond:
            if watch is not None and watch.fired:  # e.g. a TLS handshake past the budget
                raise DeadlinePassed("send deadline passed before the request was written")
            conn.notify_watch = watch
            if watch is not None:
                watch.conn = conn


class DeadlinePassed(TimeoutError):
    """Raised into urllib3 when a request would start after its deadline."""


def attach(conn: Any) -> None:
    """Bind `conn` to this thread's send, before it connects or writes a request.

    Also when this thread has none: a connection taken from the pool must no longer
    answer to the deadline of the send that used it before.
    """
    watch = getattr(_CURRENT, "watch", None)
    if watch is not None and watch.done:
        watch = None
    owner = watch or getattr(conn, "notify_watch", None)
    if owner is not None:
        owner.reaper.bind(conn, watch)


def detach(conn: Any) -> None:
    """Unbind `conn` as it goes back to the pool (urllib3 returns a fully read one
    itself, before the send disarms): an idle connection answers to no deadline."""
    owner = getattr(conn, "notify_watch", None)
    if owner is not None:
        owner.reaper.bind(conn, None)


def _shut_down(watch: Watch) -> bool:
    """Shut the socket down so the drip stops and the blocked read returns (EOF).

    `socket.socket.shutdown` directly, also for TLS: `SSLSocket.shutdown` would unwrap
    the TLS object under the reading thread's feet. False if there was none to shut.
    """
    conn = watch.conn
    if conn is None or getattr(conn, "notify_watch", None) is not watch:
        return False  # connecting (bounded by the connect timeout), pooled, or another's
    sock = getattr(conn, "sock", None)
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if not isinstance(raw, socket.socket):
        return False
    with contextlib.suppress(OSError):  # already closed by the sending thread
        socket.socket.shutdown(raw, socket.SHUT_RDWR)
    return True
