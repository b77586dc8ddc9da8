"""A small HTTP/1.1 load generator: keep-alive connections, one asyncio loop, raw sockets.

Why not `requests` in threads or httpx: on 2 cores the client competes with the server
for CPU, and a pooled `requests.Session` costs ~0.3 ms of Python per call, more than
the server's own work; writing a prepared request and reading the answer's bytes costs
a tenth of that. It speaks just enough HTTP for our answers: a status line, headers
with Content-Length, a body.

* `closed_loop(url, body, n, clients)`: each client sends its share back to back; the
  rate is requests / wall time.
* `open_loop(url, body, rate, count, clients)`: requests are due at a fixed pace and
  sent by the first free client; each latency runs from when the request was due (so a
  backlog counts, no coordinated omission) to its answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Result:
    seconds: float
    latencies_s: list[float]
    statuses: dict[int, int]


def request_bytes(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}",
             "Content-Type: application/json", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    async def call(self, raw: bytes) -> int:
        """Send one prepared request; its status once the whole answer is read."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def closed_loop(url: str, raw: bytes, n: int, clients: int) -> Result:
    connections = [await Connection.open(url) for _ in range(clients)]
    for connection in connections:  # warm: every connection has answered once
        await connection.call(raw)
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def client(connection: Connection, count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            status = await connection.call(raw)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    shares = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
    await asyncio.gather(*(client(c, k) for c, k in zip(connections, shares, strict=True)))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return Result(elapsed, latencies, statuses)


async def open_loop(url: str, raw: bytes, rate: float, count: int, clients: int) -> Result:
    connections = [await Connection.open(url) for _ in range(clients)]
    for connection in connections:
        await connection.call(raw)
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def one(due: float) -> None:
        connection = await free.get()
        status = await connection.call(raw)
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1
        free.put_nowait(connection)

    started = time.perf_counter()
    tasks = []
    for i in range(count):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return Result(elapsed, latencies, statuses)
