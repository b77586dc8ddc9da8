"""`python -m benchmarks.scheduling`: the scheduling issue's four cases, measured.

Each case gets a fresh private redis-server, the emulator (its own process) and
`notify-relay worker --processes 2` under the case's limit, as a 2-core host runs it:

1. 3 urgent jobs enqueued 3 s after 300 bulk ones, at 10/s: enqueue → arrival of each;
2. another application's 10 jobs enqueued behind the first one's 300 (both normal), at
   10/s: enqueue → the last of the 10 arriving;
3. 60 jobs at `NOTIFY_RATE_LIMIT=10/s` (default burst): the busiest 1-second window of
   arrivals (bound: limit + 1);
4. an urgent job with 120,000 bulk jobs waiting, at 20/s: enqueue → arrival.

Figures only, printed as one JSON object; the tests in tests/integration/test_scheduling.py
assert the bounds.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.bench_ratelimit import REQUEST, TOKEN, most_in_window, private_redis
from emulator import EmulatorClient
from emulator.process import EmulatorProcess
from notify_relay.processes import Service, python_argv, wait_until
from producers import Producer
from producers.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def request(application: str, marker: str) -> dict[str, Any]:
    body = json.loads(json.dumps(REQUEST))
    body["transactional"]["application"] = application
    body["transactional"]["users"] = {"list": [marker]}
    return body


class Stack:
    """A private Redis, the emulator and two supervised worker processes at `rate`."""

    def __init__(self, stack: ExitStack, rate: str) -> None:
        redis_url = stack.enter_context(private_redis())
        emu = stack.enter_context(EmulatorProcess("--token", TOKEN))
        self.settings = Settings(redis_url=redis_url, api_token=TOKEN, base_url=emu.url,
                                 rate_limit=rate, key_prefix="bench-sched:",
                                 log_level="warning")
        self.emulator = EmulatorClient(emu.url)
        self.producer = Producer(settings=self.settings)
        stack.callback(self.producer.close)
        self._stack, self._logs = stack, Path(stack.enter_context(tempfile.TemporaryDirectory()))

    def start_workers(self) -> None:
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        argv = python_argv("-m", "notify_relay", "worker", "--processes", "2",
                           "--loglevel", "WARNING")
        workers = Service("workers", argv, env, self._logs)
        self._stack.callback(workers.stop)

    def arrivals(self, marker: str, n: int, timeout_s: float = 120) -> list[float]:
        """Arrival times (this machine's clock) of `n` POSTs carrying `marker`."""
        def found() -> list[float]:
            return sorted(r["time"] for r in self.emulator.requests()
                          if marker in json.dumps(r.get("body")))
        wait_until(lambda: len(found()) >= n, timeout_s, f"{n} POSTs of {marker}")
        return found()

    def enqueue_bulk(self, n: int, application: str, priority: str = "bulk") -> None:
        for start in range(0, n, 5000):
            self.producer.enqueue_many([request(application, "bulk")] * min(5000, n - start),
                                       priority=priority)


def urgent_behind_bulk(s: Stack) -> dict[str, Any]:
    s.start_workers()
    s.enqueue_bulk(300, "BULK-00001")
    time.sleep(3.0)  # the case as the issue states it: enqueued 3 s into the campaign
    waits = []
    for i in range(3):
        at = time.time()
        s.producer.enqueue(request("OTP-00001", f"otp-{i}"), priority="urgent")
        waits.append(s.arrivals(f"otp-{i}", 1)[0] - at)
    return {"urgent_wait_s": [round(w, 3) for w in waits]}


def second_application(s: Stack) -> dict[str, Any]:
    s.start_workers()
    s.enqueue_bulk(300, "BIGAP-00001", priority="normal")
    s.arrivals("bulk", 10)
    at = time.time()
    s.producer.enqueue_many([request("SMALL-00001", "small")] * 10)
    return {"all_10_done_s": round(s.arrivals("small", 10)[-1] - at, 3)}


def busiest_second(s: Stack) -> dict[str, Any]:
    s.start_workers()
    s.enqueue_bulk(60, "PACE-00001", priority="normal")
    times = s.arrivals("bulk", 60)
    return {"busiest_1s_window": most_in_window(times), "span_s": round(times[-1] - times[0], 2)}


def urgent_behind_120000(s: Stack) -> dict[str, Any]:
    s.enqueue_bulk(120_000, "CAMPA-00001")
    s.start_workers()
    s.arrivals("bulk", 20)
    at = time.time()
    s.producer.enqueue(request("OTP-00001", "otp-big"), priority="urgent")
    return {"urgent_wait_s": round(s.arrivals("otp-big", 1)[0] - at, 3)}


CASES: dict[str, tuple[str, Callable[[Stack], dict[str, Any]]]] = {
    "3 urgent 3 s after 300 bulk, 10/s": ("10/s", urgent_behind_bulk),
    "another application's 10 behind 300, 10/s": ("10/s", second_application),
    "busiest 1-second window at 10/s": ("10/s", busiest_second),
    "urgent with 120,000 waiting, 20/s": ("20/s", urgent_behind_120000),
}


def main() -> int:
    results = {}
    for name, (rate, case) in CASES.items():
        with ExitStack() as stack:
            results[name] = case(Stack(stack, rate))
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
