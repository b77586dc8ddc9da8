"""A tiny, fast stand-in for `POST /messaging/v2/notify`, for throughput runs.

`python -m benchmarks.endpoint --port 0 --token T` prints `endpoint listening on URL`.
One asyncio process, HTTP/1.1 keep-alive, no framework. Every system under test
POSTs the same body here, so it is the same for all of them. It answers 200
`{"message_code": "..."}` after the configured latency (401 without the token), and
keeps what the benchmarks read:

=========================  =================================================
GET  /_stats               count, first arrival, last arrival, last answer
                           (time.monotonic(), comparable across processes)
GET  /_arrivals            {"marker": arrival} for bodies carrying `bench-<n>`
POST /_reset               ``{"latency_ms": 50}``: zero everything, set latency
=========================  =================================================

Why not the emulator: it is a thread per connection (faithful, scriptable faults)
and its capacity at 0 ms is below what two worker processes can send; the
`capacity` figure in the results shows both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
from typing import Any

NOTIFY_PATH = b"/messaging/v2/notify"
_MARKER = re.compile(rb'"bench-(\d+)"')
_HEAD_END = b"\r\n\r\n"


class Counters:
    """What the endpoint saw since the last reset."""

    def __init__(self) -> None:
        self.reset(0.0)

    def reset(self, latency_ms: float) -> None:
        self.latency_s = latency_ms / 1000
        self.count = 0
        self.answered = 0
        self.first = 0.0
        self.last = 0.0
        self.last_answer = 0.0
        self.arrivals: dict[str, float] = {}

    def arrived(self, body: bytes) -> int:
        now = time.monotonic()
        self.count += 1
        if self.count == 1:
            self.first = now
        self.last = now
        marker = _MARKER.search(body)
        if marker:
            self.arrivals[marker.group(1).decode()] = now
        return self.count

    def stats(self) -> dict[str, Any]:
        return {"count": self.count, "answered": self.answered, "first": self.first,
                "last": self.last, "last_answer": self.last_answer,
                "latency_ms": self.latency_s * 1000}


def reply(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "Error")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class Connection(asyncio.Protocol):
    """One keep-alive connection: frame requests by Content-Length, answer in order."""

    def __init__(self, counters: Counters, auth: bytes) -> None:
        self.counters = counters
        self.auth = auth
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(_HEAD_END)
            if end < 0:
                return
            head = self.buffer[:end]
            size = _content_length(head)
            if len(self.buffer) < end + 4 + size:
                return
            body = self.buffer[end + 4 : end + 4 + size]
            self.buffer = self.buffer[end + 4 + size :]
            self.handle(head, body)

    def handle(self, head: bytes, body: bytes) -> None:
        line = head.split(b"\r\n", 1)[0].split(b" ")
        method, path = line[0], line[1] if len(line) > 1 else b""
        if path == NOTIFY_PATH and method == b"POST":
            self.notify(head, body)
        elif path.startswith(b"/_"):
            self.send(self.control(method, path, body))
        else:
            self.send(reply(404, b'{"code":5,"message":"not found","details":[]}'))

    def notify(self, head: bytes, body: bytes) -> None:
        n = self.counters.arrived(body)
        if self.auth not in head:
            data = reply(401, b'{"code":16,"message":"bad token","details":[]}')
        else:
            data = reply(200, b'{"message_code":"BENC-%08X-00000000"}' % n)
        if self.counters.latency_s > 0:
            asyncio.get_running_loop().call_later(self.counters.latency_s, self.answer, data)
        else:
            self.answer(data)

    def answer(self, data: bytes) -> None:
        self.counters.answered += 1
        self.counters.last_answer = time.monotonic()
        self.send(data)

    def control(self, method: bytes, path: bytes, body: bytes) -> bytes:
        if path == b"/_stats":
            return reply(200, json.dumps(self.counters.stats()).encode())
        if path == b"/_arrivals":
            return reply(200, json.dumps(self.counters.arrivals).encode())
        if path == b"/_reset" and method == b"POST":
            self.counters.reset(float(json.loads(body or b"{}").get("latency_ms", 0)))
            return reply(200, b'{"ok":true}')
        return reply(404, b'{"code":5,"message":"not found","details":[]}')

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def serve(host: str, port: int, token: str, latency_ms: float) -> None:
    counters = Counters()
    counters.reset(latency_ms)
    auth = f"Token {token}".encode()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(counters, auth), host, port,
                                      backlog=1024)
    bound = server.sockets[0].getsockname()
    print(f"endpoint listening on http://{bound[0]}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.endpoint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token, args.latency_ms))


if __name__ == "__main__":
    main()
