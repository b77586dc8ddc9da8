"""`python -m benchmarks`: run the suite, write `benchmarks/results/<timestamp>/`.

    python -m benchmarks                 # the full suite (about 15-20 minutes on 2 cores)
    python -m benchmarks --quick         # 1 run each, small N: a smoke check
    python -m benchmarks --memory        # RSS after 10,000 and 100,000 jobs (long)
    python -m benchmarks --only backlog  # 20/s with 200,000 jobs waiting, against 1,000
    python -m benchmarks --only e2e --no-peers --n0 20 --n50 0    # the smallest case

Writes results.json (every run), results.md (the tables) and plot.png, plus the
worker logs under logs/. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

from benchmarks import report
from benchmarks.infra import Endpoint, RedisServer
from benchmarks.suite import PARTS, Plan, Suite, log

RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 run each, small N")
    parser.add_argument("--memory", action="store_true", help="only the long memory run")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3; quick 1)")
    parser.add_argument("--n0", type=int, help="jobs per run at 0 ms (default 3000)")
    parser.add_argument("--n50", type=int, help="jobs per run at 50 ms (default 3000; 0 skips)")
    parser.add_argument("--enqueue-n", type=int, help="jobs per enqueue run (default 10000)")
    parser.add_argument("--layouts", help="notify-relay layouts, first = default: 2x64,2x16:1 "
                        "(PxS: P processes, S senders; :1 one job per message; @enqueue: "
                        "jobs enqueued one call each)")
    parser.add_argument("--no-peers", action="store_true", help="notify-relay only")
    parser.add_argument("--memory-jobs", type=int, help="last memory checkpoint (100000)")
    parser.add_argument("--out", type=Path, help="results folder (default: a new timestamp)")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    plan = Plan()
    if args.quick:
        plan = Plan(runs=1, n={0.0: 600, 50.0: 400}, enqueue_n=1000, capacity_n=1000,
                    layouts=("2x64", "2x64@enqueue", "2x16:1"), paced_s=2.0, footprint_n=1000,
                    backlog_sizes=(1_000, 20_000), backlog_window_s=5.0,
                    parts=("capacity", "e2e", "enqueue", "latency", "footprint"))
    if args.memory:
        plan.parts = ("memory",)
    if args.only:
        plan.parts = tuple(args.only)
    plan.runs = args.runs or plan.runs
    n0 = plan.n[0.0] if args.n0 is None else args.n0
    n50 = plan.n[50.0] if args.n50 is None else args.n50
    plan.n = {lat: n for lat, n in ((0.0, n0), (50.0, n50)) if n > 0}
    plan.enqueue_n = args.enqueue_n or plan.enqueue_n
    plan.layouts = tuple(args.layouts.split(",")) if args.layouts else plan.layouts
    plan.peers = not args.no_peers
    if args.memory_jobs:
        plan.memory_checkpoints = (min(10_000, args.memory_jobs // 10), args.memory_jobs)
    return plan


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # the peers need the `bench` extra
        return "not installed"


def meta(plan: Plan) -> dict[str, str]:
    versions = ", ".join(f"{p} {_version(p)}" for p in
                         ("celery", "kombu", "redis", "requests", "dramatiq"))
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python "
                   f"{platform.python_version()}",
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": versions,
        "tree": _git_state(),
        "plan": f"{plan.runs} run(s) per figure; N per e2e run "
                + ", ".join(f"{n:,} at {lat:g} ms" for lat, n in plan.n.items())
                + f"; enqueue N {plan.enqueue_n:,}; layouts {', '.join(plan.layouts)}",
        "endpoint": "benchmarks.endpoint (asyncio, one process), same for every system",
    }


def _git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=RESULTS.parent.parent).stdout.strip()
    dirty = git("status", "--porcelain", "--", "worker", "producers")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes in worker/ or "
                                                  "producers/" if dirty else "")


def _plot(results: dict[str, object], path: Path) -> None:
    try:
        from benchmarks import plot  # matplotlib comes with the `bench` extra
    except ImportError as exc:
        log(f"no plot: {exc} (pip install -e '.[bench]')")
        return
    plot.draw(results, path)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    plan = make_plan(args)
    out = args.out or RESULTS / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    info = meta(plan)
    started = time.monotonic()
    with RedisServer() as redis, Endpoint() as endpoint:
        results = Suite(plan, out, redis, endpoint).run()
    info["wall time"] = f"{time.monotonic() - started:,.0f} s"
    (out / "results.json").write_text(json.dumps({"meta": info, **results}, indent=1))
    (out / "results.md").write_text(report.markdown(results, info))
    if "e2e" in results or "latency" in results:
        _plot(results, out / "plot.png")
    log(f"results in {out}")
    print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
