"""`python -m emulator.bench --requests 5000 --threads 8`: how many notify requests per second
the emulator answers to pooled `requests.Session`s (one per thread) on this machine.

Without `--url` it starts `python -m emulator` in a child process, so client and server do not
share a GIL (as with real workers). The figure is a ceiling for benchmarks that go through it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from requests import Session

from emulator.process import EmulatorProcess

TOKEN = "bench-token"
BODY: dict[str, Any] = {  # the shape of spec §15.1 V3, a typical transactional push
    "transactional": {
        "application": "ABCDE-12345",
        "platforms": ["IOS", "ANDROID"],
        "users": {"list": ["user-1", "user-2"]},
        "payload": {"content": {"localized_content": {"en": {"ios": {"body": "Code 4821"}}}}},
        "schedule": {"at": "2026-05-01T09:00:00Z"},
        "message_type": "MESSAGE_TYPE_TRANSACTIONAL",
    }
}


class ClientResult(NamedTuple):
    start: float
    end: float
    latencies: list[float]
    errors: int


def _worker(
    url: str, n: int, start: threading.Barrier, out: list[float], errors: list[int]
) -> None:
    body = json.dumps(BODY).encode()
    headers = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
    with Session() as session:
        session.post(url, data=body, headers=headers, timeout=10)  # open the connection first
        start.wait()
        for _ in range(n):
            t0 = time.perf_counter()
            resp = session.post(url, data=body, headers=headers, timeout=10)
            out.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                errors.append(resp.status_code)


def _client(url: str, n: int, threads: int, go: Any = None) -> ClientResult:
    """One client process: `threads` sessions; `go` (a multiprocessing barrier) lines up the
    processes once every connection is open. Times are time.monotonic(), system-wide on Linux."""
    start = threading.Barrier(threads + 1)
    latencies: list[float] = []
    errors: list[int] = []
    shares = [n // threads + (i < n % threads) for i in range(threads)]
    pool = [
        threading.Thread(target=_worker, args=(url, k, start, latencies, errors)) for k in shares
    ]
    for t in pool:
        t.start()
    if go is not None:
        go.wait()
    start.wait()
    t0 = time.monotonic()
    for t in pool:
        t.join()
    return ClientResult(t0, time.monotonic(), latencies, len(errors))


def _child(url: str, n: int, threads: int, go: Any, results: Any) -> None:
    results.put(_client(url, n, threads, go))


def _in_processes(url: str, requests: int, threads: int, processes: int) -> list[ClientResult]:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
    go, results = ctx.Barrier(processes), ctx.Queue()
    shares = [requests // processes + (i < requests % processes) for i in range(processes)]
    procs = [ctx.Process(target=_child, args=(url, k, threads, go, results)) for k in shares]
    for p in procs:
        p.start()
    out = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return out


def run(base_url: str, requests: int, threads: int, processes: int = 1) -> dict[str, float]:
    """Send `requests` notifies with `threads` sessions in each of `processes` client processes."""
    url = f"{base_url}/messaging/v2/notify"
    if processes == 1:
        parts = [_client(url, requests, threads)]
    else:
        parts = _in_processes(url, requests, threads, processes)
    latencies = [x for p in parts for x in p.latencies]
    elapsed = max(p.end for p in parts) - min(p.start for p in parts)
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": sum(p.errors for p in parts),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[str]:
    if args.url:
        yield args.url.rstrip("/")
        return
    extra = ["--token", TOKEN, "--latency-ms", str(args.latency_ms)]
    if not args.record_bodies:
        extra.append("--no-record-bodies")
    with EmulatorProcess(*extra) as emu:
        yield emu.url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8, help="per client process")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="client processes; one process of `requests` is CPU-bound near 1,000-1,500 req/s",
    )
    parser.add_argument("--url", help=f"an emulator already running (token {TOKEN!r} or none)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="for the started emulator")
    parser.add_argument("--no-record-bodies", dest="record_bodies", action="store_false")
    args = parser.parse_args(argv)
    with _target(args) as url:
        r = run(url, args.requests, args.threads, args.processes)
    print(
        f"{r['requests']:.0f} requests, {args.processes} x {args.threads} threads, "
        f"{r['errors']:.0f} errors: "
        f"{r['rps']:,.0f} req/s (p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms)",
        flush=True,
    )
    return 1 if r["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
