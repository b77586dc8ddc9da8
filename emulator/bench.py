"""`python -m emulator.bench --requests 5000 --threads 8`: how many notify requests per second
the emulator answers to pooled `requests.Session`s (one per thread) on this machine.

Without `--url` it starts `python -m emulator` in a child process, so client and server do not
share a GIL (as with real workers). The figure is a ceiling for benchmarks that go through it.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


def _worker(
    url: str, n: int, start: threading.Barrier, out: list[float], errors: list[int]
) -> None:
    with Session() as session:
        headers = {"Authorization": f"Token {TOKEN}"}
        session.post(url, json=BODY, headers=headers, timeout=10)  # open the connection first
        start.wait()
        for _ in range(n):
            t0 = time.perf_counter()
            resp = session.post(url, json=BODY, headers=headers, timeout=10)
            out.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                errors.append(resp.status_code)


def run(base_url: str, requests: int, threads: int) -> dict[str, float]:
    url = f"{base_url}/messaging/v2/notify"
    start = threading.Barrier(threads + 1)
    latencies: list[float] = []
    errors: list[int] = []
    shares = [requests // threads + (i < requests % threads) for i in range(threads)]
    pool = [
        threading.Thread(target=_worker, args=(url, n, start, latencies, errors)) for n in shares
    ]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": len(errors),
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
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--url", help=f"an emulator already running (token {TOKEN!r} or none)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="for the started emulator")
    parser.add_argument("--no-record-bodies", dest="record_bodies", action="store_false")
    args = parser.parse_args(argv)
    with _target(args) as url:
        r = run(url, args.requests, args.threads)
    print(
        f"{r['requests']:.0f} requests, {args.threads} threads, {r['errors']:.0f} errors: "
        f"{r['rps']:,.0f} req/s (p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms)",
        flush=True,
    )
    return 1 if r["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
