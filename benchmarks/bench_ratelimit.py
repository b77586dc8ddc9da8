"""`python -m benchmarks.bench_ratelimit`: does the shared limit hold, and is it all used?

Starts a private redis-server, the emulator (its own process, bodies not recorded) and
`--workers` real `celery -A worker worker` processes under one limit, enqueues
`--seconds` worth of jobs at that limit (plus the burst), and reads the emulator's
arrival times:

* achieved / configured: after the opening burst, sends per second over the whole run
  against the limit (goal 0.98 to 1.00), and the same from 5 s in to 1 s before the end
  (`steady_`: without the workers' warm-up);
* the worst 1-second window over all arrivals (bound: rate + burst), and the worst one
  from 5 s in (near rate when the workers keep up: a spell in which they fall behind
  the limit lets burst credit build up again, which GCRA then rightly allows).

plus the arrivals in each second. `--rate 100000/s:1 --jobs 6200` measures what the
workers manage with no limit to speak of on this machine: above that, no limiter can
reach its rate, and the figure to compare with is that capacity.

Figures only: no assertion here (timing goals live in benchmarks, not in tests).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import redis

from emulator import EmulatorClient
from emulator.process import EmulatorProcess
from notify_relay.processes import Service, free_port, wait_until, worker_argv
from producers import Producer
from producers.rates import parse_rate
from producers.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-ratelimit-token"
REQUEST: dict[str, Any] = json.loads((ROOT / "examples" / "transactional.json").read_text())
#: The workers' warm-up: figures called steady start this long after the first send.
STEADY_AFTER_S = 5.0


@contextmanager
def private_redis() -> Iterator[str]:
    """A throw-away redis-server, so the run never touches a shared one."""
    port, workdir = free_port(), tempfile.mkdtemp(prefix="bench-ratelimit-redis-")
    binary = shutil.which("redis-server") or "redis-server"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _answers(url), 10, f"redis-server on port {port}")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url) as client:
            return bool(client.ping())
    except redis.ConnectionError:
        return False


def start_workers(settings: Settings, n: int, log_dir: Path) -> list[Service]:
    """`n` workers logging warnings only (a log line per send would cost the run CPU)."""
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    return [Service(f"worker-{i}", worker_argv("--loglevel", "WARNING", "-n", f"w{i}@%h"),
                    env, log_dir) for i in range(n)]


def warm_up(workers: list[Service], producer: Producer, emulator: EmulatorClient) -> int:
    """One job per worker through to the emulator: every worker is consuming. Returns the
    emulator's last request number, where the measured run starts."""
    producer.enqueue_many([REQUEST] * len(workers))
    wait_until(partial(_sent_or_dead, workers, emulator), 90, "the warm-up jobs")
    dead = [w for w in workers if not w.alive()]
    if dead:
        raise RuntimeError(f"{dead[0].name} exited:\n{dead[0].log_text()[-3000:]}")
    return int(emulator.requests()[-1]["seq"])


def _sent_or_dead(workers: list[Service], emulator: EmulatorClient) -> bool:
    return len(emulator.requests()) >= len(workers) or not all(w.alive() for w in workers)


def arrivals(client: EmulatorClient, since: int, n: int, timeout_s: float) -> list[float]:
    """Arrival times of `n` notify requests after `since` (polled in pages, with a deadline)."""
    times: list[float] = []
    seen, deadline = since, time.monotonic() + timeout_s
    while len(times) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(times)} of {n} requests after {timeout_s:g} s")
        page = client.requests(since=seen)
        if page:
            seen = page[-1]["seq"]
            times += [r["time"] for r in page if r["path"] == "/messaging/v2/notify"]
        time.sleep(0.5)
    return sorted(times)


def most_in_window(times: list[float], window_s: float = 1.0) -> int:
    most, end = 0, 0
    for start, first in enumerate(times):
        while end < len(times) and times[end] < first + window_s:
            end += 1
        most = max(most, end - start)
    return most


def figures(times: list[float], rate: float, burst: int) -> dict[str, Any]:
    span = times[-1] - times[0]
    steady = [t for t in times if t >= times[0] + STEADY_AFTER_S]
    return {
        "requests": len(times),
        "span_s": round(span, 3),
        "achieved_per_s": round((len(times) - burst) / span, 2),
        "achieved_over_configured": round((len(times) - burst) / span / rate, 4),
        "steady_over_configured": round(middle_rate(times) / rate, 4),
        "worst_window_all": most_in_window(times),
        "bound_all": rate + burst,
        "worst_window_steady": most_in_window(steady),
        "per_second": per_second(times),
    }


def middle_rate(times: list[float]) -> float:
    """Sends per second from STEADY_AFTER_S after the first arrival to 1 s before the last."""
    start, end = times[0] + STEADY_AFTER_S, times[-1] - 1.0
    return sum(1 for t in times if start <= t < end) / (end - start)


def per_second(times: list[float]) -> list[int]:
    """Arrivals in each whole second from the first one (to see a slow spell at a glance)."""
    counts = [0] * (int(times[-1] - times[0]) + 1)
    for t in times:
        counts[int(t - times[0])] += 1
    return counts


def run(args: argparse.Namespace) -> dict[str, Any]:
    rate = parse_rate(args.rate)
    total = args.jobs or int(rate.per_second * args.seconds) + rate.burst
    with ExitStack() as stack:
        redis_url = stack.enter_context(private_redis())
        emu = stack.enter_context(EmulatorProcess("--token", TOKEN, "--no-record-bodies"))
        settings = Settings(redis_url=redis_url, api_token=TOKEN, base_url=emu.url,
                            rate_limit=args.rate, concurrency=args.concurrency,
                            key_prefix="bench-ratelimit:", log_level="warning")
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workers = start_workers(settings, args.workers, log_dir)
        stack.callback(lambda: [w.stop() for w in workers])
        producer = Producer(settings=settings)
        stack.callback(producer.close)
        client = EmulatorClient(emu.url)
        since = warm_up(workers, producer, client)
        for start in range(0, total, 1000):
            producer.enqueue_many([REQUEST] * min(1000, total - start))
        times = arrivals(client, since, total, total / rate.per_second * 2 + 120)
    return figures(times, rate.per_second, rate.burst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_ratelimit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", default="200/s", help="NOTIFY_RATE_LIMIT (default 200/s)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=32, help="threads per worker")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--jobs", type=int, default=0,
                        help="jobs to send instead (with --rate 100000/s:1: the workers' capacity)")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps({"rate": args.rate, "workers": args.workers,
                      "concurrency": args.concurrency, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
