"""A real webhook receiver for tests: a stdlib HTTP server on its own threads.

It records every request (headers, the raw body, the status it answered, when) and
answers the scripted statuses in order, then 204; `delay_s` makes it slow (it answers
that much later), `close()` takes it down (connections are then refused).
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from notify_relay.processes import wait_until


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class Receiver:
    def __init__(self, *statuses: int, delay_s: float = 0.0, path: str = "/hooks",
                 port: int = 0) -> None:
        self._statuses: collections.deque[int] = collections.deque(statuses)
        self.delay_s = delay_s
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def script(self, *statuses: int) -> None:
        with self._lock:
            self._statuses.extend(statuses)

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = self._statuses.popleft() if self._statuses else 204
            self.received.append(Received(headers, body, status, time.time()))
        return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._answer({k.lower(): v for k, v in self.headers.items()},
                                          body)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        wait_until(lambda: len(self.received) >= count, timeout, f"{count} webhook(s)")
        return list(self.received)

    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
