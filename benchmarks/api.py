"""The HTTP API against the in-process producer, in the same run, on the same private Redis.

* in process: one `Producer.enqueue` loop, validation included (the enqueue part's case).
* over HTTP: `notify-relay api --workers W` (its defaults: INFO access log, counters),
  `POST /v1/notifications` with the same request, from `CLIENTS` keep-alive connections
  sending back to back (benchmarks/httpload.py, one asyncio loop in this process):
  requests/s = answers ÷ wall time.
* latency: requests due at half the HTTP rate just measured, for `paced_s`, sent on the
  same connections; each latency from when it was due to its answer; p50, p99, max.

Goals (issue 17): HTTP rate ≥ 0.5 × the in-process rate, p99 < 25 ms at half capacity.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import secrets
import statistics
import sys
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import enqueue
from benchmarks.body import BODY
from benchmarks.httpload import Result, closed_loop, open_loop, request_bytes
from benchmarks.infra import RedisServer
from notify_relay.processes import Service, free_port, wait_until

CLIENTS = 16
ROOT = Path(__file__).resolve().parent.parent


class ApiServer:
    """`notify-relay api` in child processes, with one key, against `redis_url`."""

    def __init__(self, redis_url: str, log_dir: Path, workers: int) -> None:
        self.key = "nrk_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(self.key.encode()).hexdigest()
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url,
               "NOTIFY_API_KEYS": f"bench:{digest}", "NOTIFY_LOG_LEVEL": "info"}
        argv = [sys.executable, "-m", "notify_relay.cli", "api", "--port", port,
                "--workers", str(workers)]
        self.service = Service(f"api-{workers}w-{port}", argv, env, log_dir)
        wait_until(self._healthy, 30, "the API to answer /healthz")

    def _healthy(self) -> bool:
        if not self.service.alive():
            raise RuntimeError(f"the API exited:\n{self.service.log_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self.service.stop()


def _loop() -> asyncio.AbstractEventLoop:
    try:  # the client's CPU competes with the server's on 2 cores: the cheaper loop
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def _drive(coroutine: Any) -> Result:
    """Run a load on a fresh loop, with this process's collector off meanwhile: the
    harness's heap is big, and a full collection would stall the client, not the server."""
    loop = _loop()
    gc.collect()
    gc.disable()
    try:
        result: Result = loop.run_until_complete(coroutine)
        return result
    finally:
        gc.enable()
        loop.close()


def run(workers: int, n: int, paced_s: float, redis: RedisServer,
        log_dir: Path) -> dict[str, Any]:
    in_process = enqueue.run("notify-relay enqueue", n, redis)["jobs_per_s"]
    redis.flush()
    server = ApiServer(redis.url, log_dir, workers)
    try:
        target = f"{server.url}/v1/notifications"
        raw = request_bytes(target, json.dumps({"request": BODY}).encode(),
                            {"Authorization": f"Bearer {server.key}"})
        burst = _drive(closed_loop(target, raw, n, CLIENTS))
        rate = n / burst.seconds
        paced = _drive(open_loop(target, raw, rate / 2, max(1, int(rate / 2 * paced_s)),
                                 CLIENTS))
    finally:
        server.stop()
    cuts = statistics.quantiles(paced.latencies_s, n=100, method="inclusive")
    errors = sum(count for status, count in {**burst.statuses, **paced.statuses}.items()
                 if status != 202)
    return {"in_process_per_s": in_process, "http_per_s": rate,
            "ratio": rate / in_process, "paced_per_s": rate / 2,
            "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000,
            "max_ms": max(paced.latencies_s) * 1000, "errors": float(errors)}
