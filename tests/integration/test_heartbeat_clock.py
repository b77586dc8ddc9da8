"""Heartbeats run on Redis's clock: a host whose wall clock is off is seen, and sees, right.

A worker process a minute behind (libfaketime) beats; `notify-relay health --worker` on
time, and one a minute ahead, both find it live. Were beats stamped with the worker's own
clock, the first would find it a minute stale (dead), and one ahead would keep a dead
worker alive for a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from notify_relay.processes import Service, wait_until
from producers.keys import Keys
from tests.conftest import ROOT
from tests.faults import faketime
from worker.store.heartbeat import STALE_AFTER_S, live_workers, workers_key

pytestmark = pytest.mark.integration

#: Three times the staleness bound: either clock taken for Redis's would show.
OFFSET_S = 3 * STALE_AFTER_S


def clock_prefix(offset_s: float) -> list[str]:
    try:
        return faketime.env_argv(offset_s)
    except RuntimeError as exc:  # no libfaketime or gcc here
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide libfaketime and gcc: {exc}")
        pytest.skip(str(exc))


def health(env: dict[str, str], offset_s: float) -> subprocess.CompletedProcess[str]:
    argv = [*clock_prefix(offset_s), sys.executable, "-m", "notify_relay.cli", "health",
            "--worker", "--node", "skewed@*"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_a_worker_a_minute_behind_is_live_to_hosts_on_time_and_ahead(settings, redis_client,
                                                                      tmp_path):
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    argv = [*clock_prefix(-OFFSET_S), sys.executable, "-m", "worker.main", "-n", "skewed@%h"]
    worker = Service("skewed-worker", argv, env, tmp_path / "logs")
    try:
        keys = Keys(settings.key_prefix)
        wait_until(lambda: any(n.startswith(b"skewed@") for n in
                               redis_client.zrange(workers_key(keys), 0, -1)),
                   60, "the skewed worker's first beat")
        on_time, ahead = health(env, 0.0), health(env, +OFFSET_S)
        assert on_time.returncode == 0, on_time.stdout + on_time.stderr
        assert ahead.returncode == 0, ahead.stdout + ahead.stderr
        ages = live_workers(redis_client, keys, time.time())  # this host's clock is Redis's
        [age] = [a for n, a in ages.items() if n.startswith("skewed@")]
        assert age < STALE_AFTER_S
    finally:
        worker.stop(timeout=30)
