"""`--profile`: where notify-relay's worker spends its CPU per job at the 0 ms endpoint.

py-spy samples the running worker (`--subprocesses`, non-idle threads) while it drains
a pre-filled queue. Each sample is charged twice:

* to a **package**, by its innermost Python frame (celery, kombu, redis-py, requests,
  urllib3, http.client, json, logging, our worker/ and producers/ code, ...);
* to a **step**, by the innermost frame that names one (the claim, the dispatch, the
  circuit, the POST, recording the outcome, metrics, Celery's task events, kombu's
  receive and ack, ...).

Shares are of the samples taken; times per job are share x the measured CPU per job.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import procstats
from benchmarks.body import BODY
from benchmarks.e2e import Workers
from benchmarks.infra import Endpoint, RedisServer
from benchmarks.systems import System, Target

SAMPLE_RATE_HZ = 250
WARM_JOBS = 300

#: (package, path prefix of the innermost frame); first match wins.
PACKAGES: tuple[tuple[str, str], ...] = (
    ("notify-relay worker/", "worker/"), ("notify-relay producers/", "producers/"),
    ("celery", "celery/"), ("kombu", "kombu/"), ("kombu", "vine/"), ("redis-py", "redis/"),
    ("requests", "requests/"), ("urllib3", "urllib3/"), ("http.client", "http/"),
    ("http.client", "email/"), ("json", "json/"), ("marshmallow", "marshmallow/"),
    ("logging", "logging/"), ("threads, futures", "threading.py"),
    ("threads, futures", "concurrent/"), ("threads, futures", "queue.py"),
    ("sockets, select", "socket.py"), ("sockets, select", "selectors.py"),
)

#: (step, marker in a frame "function (path"). The innermost frame with a specific marker
#: wins; failing that, the innermost frame with a generic one.
SPECIFIC_STEPS: tuple[tuple[str, str], ...] = (
    ("claim (Lua: lease, budget slot, body)", "ClaimStore.claim (worker/store/claims.py"),
    ("record outcome (Lua)", "ClaimStore.succeed (worker/store/claims.py"),
    ("record outcome (Lua)", "ClaimStore.retry (worker/store/claims.py"),
    ("record outcome (Lua)", "ClaimStore.bury (worker/store/claims.py"),
    ("dispatch (Lua: budget, priorities, messages)", "Waiting.dispatch (worker/store/"),
    ("dispatch (Lua: budget, priorities, messages)", "(worker/scheduler.py"),
    ("circuit check / reset", "(worker/store/circuit.py"),
    ("HTTP POST (urllib3)", "NotifyClient.post (worker/http.py"),
    ("classify", "classify (worker/classify.py"),
    ("metrics", "(worker/store/metrics.py"),
    ("events / logs", "(worker/events.py"),
    ("celery task events (PUBLISH)", "(celery/events/"),
    ("kombu ack (unacked ZREM + HDEL)", "Message.ack (kombu/message.py"),
    ("kombu ack (unacked ZREM + HDEL)", "QoS.ack (kombu/transport/redis.py"),
    ("kombu QoS append (unacked ZADD + HSET)", "QoS.append (kombu/transport/redis.py"),
)
GENERIC_STEPS: tuple[tuple[str, str], ...] = (
    ("other delivery code", "(worker/"),
    ("celery trace / task call", "(celery/app/trace.py"),
    ("celery pool hand-off", "(celery/concurrency/"),
    ("kombu receive (BRPOP, decode)", "(kombu/transport/"),
    ("celery consumer: message -> request", "(celery/worker/"),
    ("kombu event loop", "(kombu/asynchronous/"),
)

#: (what, marker): share of samples with the marker anywhere in the stack.
HOT_SPOTS: tuple[tuple[str, str], ...] = (
    ("redis-py client construction (kombu, per ack / QoS append)", "Redis.__init__ (redis/"),
    ("requests: proxy / environment lookup per request", "merge_environment_settings ("),
    ("http.client header parsing (email package)", "(email/"),
    ("logging (format + write)", "(logging/"),
    ("json encode / decode (any caller)", "(json/"),
    ("celery saferepr of args (logs, events)", "(celery/utils/saferepr.py"),
    ("uuid generation", "(uuid.py"),
)


def run(system: System, n: int, duration_s: float, redis: RedisServer, endpoint: Endpoint,
        out_dir: Path) -> dict[str, Any]:
    """Sample `system`'s workers for `duration_s` while they drain `n` pre-filled jobs."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("benchmarks: the profile needs py-spy: "
                         "pip install -e '.[bench]' (or --only without profile)")
    redis.flush()
    endpoint.reset(0)
    target = Target(redis.url, endpoint.url)
    system.prefill(target, [BODY] * n)
    workers = Workers(system.launch(target, out_dir / "logs", "profile"), system.supervised)
    raw = out_dir / "profile.txt"
    try:
        while endpoint.stats()["answered"] < WARM_JOBS:
            workers.check_alive()
            time.sleep(0.05)
        pids = workers.pids()
        before, cpu0 = endpoint.stats()["answered"], procstats.cpu_seconds(pids)
        _record(spy, workers.services[0].proc.pid, duration_s, raw)
        jobs = endpoint.stats()["answered"] - before
        cpu_ms = 1000 * (procstats.cpu_seconds(pids) - cpu0) / max(1, jobs)
    finally:
        workers.stop()
    return {"jobs": jobs, "cpu_ms_per_job": cpu_ms, **analyse(raw.read_text())}


def _record(spy: str, pid: int, duration_s: float, out: Path) -> None:
    argv = [spy, "record", "--pid", str(pid), "--duration", str(int(duration_s)),
            "--rate", str(SAMPLE_RATE_HZ), "--subprocesses", "--format", "raw",
            "--output", str(out), "--gil", "--nonblocking"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def analyse(raw: str) -> dict[str, Any]:
    """Shares (0..1) of samples by package and by step, from py-spy's raw format."""
    packages: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    hot: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")[1:]  # the first entry names the process
        if not frames:
            continue
        weight = int(count)
        packages[_package(frames[-1])] += weight
        steps[_step(frames)] += weight
        functions[frames[-1]] += weight
        for name, marker in HOT_SPOTS:
            if any(marker in frame for frame in frames):
                hot[name] += weight
    total = sum(packages.values()) or 1
    return {
        "samples": total,
        "packages": _shares(packages, total),
        "steps": _shares(steps, total),
        "hot_spots": _shares(hot, total),
        "top_functions": _shares(Counter(dict(functions.most_common(15))), total),
    }


def _package(frame: str) -> str:
    path = frame.rpartition(" (")[2]
    return next((name for name, prefix in PACKAGES if path.startswith(prefix)), "other")


def _step(frames: list[str]) -> str:
    for steps in (SPECIFIC_STEPS, GENERIC_STEPS):
        for frame in reversed(frames):
            for name, marker in steps:
                if marker in frame:
                    return name
    return "unattributed (truncated stack, idle pool threads)"


def _shares(counter: Counter[str], total: int) -> dict[str, float]:
    return {name: count / total for name, count in counter.most_common()}
