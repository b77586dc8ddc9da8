"""Do webhooks slow notification sends? The end-to-end run (e2e.py) of the default layout
(2 worker processes, every setting at its default), with webhooks off, to a receiver that
answers at once, to one slower than NOTIFY_WEBHOOK_TIMEOUT, and to a port nothing listens on.

    .venv/bin/python -m benchmarks.webhooks [--n 3000] [--runs 3]

Runs are interleaved (run 1 of every mode, then run 2, ...); each figure is the median
(min-max) of the runs. Every job's outcome adds one `notification.succeeded` event (the
default ladder and timeout: a slow receiver holds each webhook thread 15 s, a dead one
fails each first try at once and the next one 5 s later).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks import e2e
from benchmarks.infra import Endpoint, RedisServer
from benchmarks.systems import NOTIFY_RELAY_DEFAULT
from notify_relay.processes import free_port

SECRET = "whsec_" + base64.b64encode(b"benchmark webhook secret 32 byte").decode()
READY = "receiver listening on "
MODES = ("off", "receiver ok", "receiver slow (60 s)", "receiver down")


@contextmanager
def receiver(delay_s: float) -> Iterator[str]:
    argv = [sys.executable, "-m", "benchmarks.hook_receiver", "--delay-s", str(delay_s)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        yield line[len(READY):].strip()
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def nothing_listening() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}/hooks"  # connections are refused


@contextmanager
def webhooks_to(mode: str) -> Iterator[None]:
    """The workers' environment for `mode` (System.launch passes os.environ on)."""
    if mode == "off":
        yield
        return
    delay = {"receiver ok": 0.0, "receiver slow (60 s)": 60.0}.get(mode)
    with (nothing_listening() if delay is None else receiver(delay)) as url:
        os.environ.update(NOTIFY_WEBHOOK_URL=url, NOTIFY_WEBHOOK_SECRET=SECRET)
        try:
            yield
        finally:
            for name in ("NOTIFY_WEBHOOK_URL", "NOTIFY_WEBHOOK_SECRET"):
                os.environ.pop(name, None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    log_dir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    with RedisServer() as redis, Endpoint() as endpoint:
        for run in range(args.runs):
            for mode in MODES:
                with webhooks_to(mode):
                    result = e2e.run(NOTIFY_RELAY_DEFAULT, args.n, 0.0, redis, endpoint,
                                     log_dir / f"{run}-{mode.split()[0]}")
                results[mode].append(result)
                print(f"run {run + 1} {mode:<22} {result['jobs_per_s']:8.0f} jobs/s "
                      f"{result['cpu_ms_per_job']:6.3f} CPU ms/job", flush=True)
    print(f"\n{args.n} jobs, {args.runs} runs, {NOTIFY_RELAY_DEFAULT.label}")
    print("| webhooks | jobs/s | vs off | CPU ms/job |\n|---|---|---|---|")
    base = statistics.median(r["jobs_per_s"] for r in results["off"])
    for mode, runs in results.items():
        rates = [r["jobs_per_s"] for r in runs]
        cpu = [r["cpu_ms_per_job"] for r in runs]
        print(f"| {mode} | {statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f}) "
              f"| {statistics.median(rates) / base:.2f} | {statistics.median(cpu):.3f} "
              f"({min(cpu):.3f}-{max(cpu):.3f}) |")


if __name__ == "__main__":
    main()
