"""Smoke tests of the simulated hosts (hosts.py): real workers in network namespaces.

What the scenarios on several hosts rely on: each host's worker reaches the machine's Redis
and emulator over its own link (the emulator sees the host's address), `cut_redis()` cuts
exactly Redis and `heal_redis()` undoes it, and a clock offset moves time.time() of the
host's processes, a real worker's included, while time.monotonic() stays the machine's.
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from notify_relay.processes import free_port, python_argv, wait_until
from producers import Producer
from producers.settings import Settings
from tests.faults import hosts
from tests.faults.cluster import ROOT, EmulatorProcess, RedisServer, WorkerPool
from tests.faults.conftest import require_hosts
from tests.faults.hosts import HostScenario, HostService, SimulatedHost, current_run
from tests.faults.netns import machine_lock, ours, sweep_stale
from tests.faults.reconcile import Reconciliation, marker_of
from tests.faults.runner import Plan, probe_request, worker_settings

pytestmark = pytest.mark.faults

OpenHost = Callable[..., SimulatedHost]
#: Run on a host: accept connections on ADDRESS PORT until killed.
LISTEN = ("import socket, sys; server = socket.create_server((sys.argv[1], int(sys.argv[2]))); "
          "print('listening', flush=True)\nwhile True: server.accept()[0].close()")
#: Run on a host: its wall clock, its monotonic clock, and how long a 0.2 s sleep took.
CLOCKS = ("import json, threading, time; wall, mono = time.time(), time.monotonic(); "
          "time.sleep(0.2); threading.Event().wait(0.05); "
          "print(json.dumps([wall, mono, time.monotonic() - mono]))")
#: Run on a host: how long a thread waits for the GIL, on average, while another thread
#: computes (Python asks the holder to let go every 5 ms: sys.getswitchinterval()).
GIL_WAIT = """import threading, time
busy = True
def spin():
    while busy:
        pass
threading.Thread(target=spin).start()
waited = 0.0
for _ in range(50):
    started = time.monotonic()
    time.sleep(0.001)
    waited += time.monotonic() - started - 0.001
busy = False
print(waited / 50)
"""


@contextmanager
def machine_services(tmp_path: Path, redis_port: int,
                     hosts: list[SimulatedHost]) -> Iterator[tuple[Settings, EmulatorProcess]]:
    """The test's own Redis and emulator, on 127.0.0.1 and on every host's gateway."""
    token = f"hosts-token-{secrets.token_hex(8)}"
    redis = RedisServer(redis_port, tmp_path / "redis", tmp_path / "logs")
    emulator = EmulatorProcess(free_port(), token, tmp_path / "logs", latency_ms=20.0)
    redis.binds += [host.gateway for host in hosts]
    emulator.also_listen = [host.gateway for host in hosts]
    try:
        redis.start()
        emulator.start()
        yield worker_settings(redis.url, emulator.url, token, f"nrhosts-{secrets.token_hex(3)}:",
                              concurrency=2), emulator
    finally:
        emulator.shutdown()
        redis.stop()


@contextmanager
def one_worker(settings: Settings, host: SimulatedHost, log_dir: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(settings, 1, log_dir, [host])
    try:
        pool.start_all()
        yield pool
    finally:
        pool.stop_all()


def deliver(settings: Settings, marker: str) -> dict[str, Any]:
    """Enqueue one job and wait until it succeeded; its outcome record."""
    producer = Producer(settings=settings)
    try:
        job_id = producer.enqueue(probe_request(marker), idempotency_key=marker)
        wait_until(lambda: (producer.outcome(job_id) or {}).get("status") == "succeeded", 30,
                   f"job {marker} to succeed")
        return dict(producer.outcome(job_id) or {})
    finally:
        producer.close()


def post_of(emulator: EmulatorProcess, marker: str) -> dict[str, Any]:
    [post] = [r for r in emulator.collect() if marker_of(r["body"]) == marker]
    return post


@pytest.mark.timeout(150)
def test_two_hosts_each_deliver_over_their_own_link(
        host_scenario: Callable[..., HostScenario],
        publish: Callable[[Reconciliation], str]) -> None:
    s = host_scenario(Plan("two-hosts", jobs=50, workers=2, concurrency=4, feed_s=1.0,
                           batches=5, latency_ms=100.0, deadline_s=60.0), hosts=2)
    result = s.run()
    report = publish(result)
    assert (result.enqueued, result.succeeded) == (50, 50), report
    assert result.problems == [], report
    posts = [r for r in s.emulator.records if r["path"].endswith("/notify")]
    by_peer = Counter(post["peer"] for post in posts)
    # Both hosts sent some, each from its own address; nothing came by another way.
    assert set(by_peer) == {host.address for host in s.hosts}, by_peer
    for index, host in enumerate(s.hosts):
        worker = s.workers.workers[index]
        assert worker is not None and f"@{host.hostname}" in worker.log_text()
    # run() removed its hosts: no namespace or link of this run is left.
    assert ours(current_run().id) == {"netns": [], "links": []}


@pytest.mark.timeout(150)
def test_cut_redis_cuts_redis_only_and_heal_restores_it(
        simulated_host: OpenHost, tmp_path: Path) -> None:
    port = free_port()
    cut = simulated_host("cut", 0, redis_port=port)
    other = simulated_host("other", 1, redis_port=port)
    with machine_services(tmp_path, port, [cut, other]) as (settings, emulator), \
            one_worker(settings, cut, tmp_path / "logs") as pool:
        worker = pool.workers[0]
        assert isinstance(worker, HostService) and worker.in_host()
        health = f"{emulator.url}/_emulator/health"
        assert cut.redis_answers(settings.redis_url)
        cut.cut_redis()
        started = time.monotonic()
        assert not cut.redis_answers(settings.redis_url, timeout_s=1.0)
        assert time.monotonic() - started < 10  # the 1 s timeout, plus Python's start-up
        assert cut.http_answers(health)  # the endpoint is still reachable from the host
        assert other.redis_answers(settings.redis_url)  # the cut is that host's alone
        cut.heal_redis()
        assert cut.redis_answers(settings.redis_url)
        deliver(settings, "after-heal")  # and the worker that was cut delivers again
        assert post_of(emulator, "after-heal")["peer"] == cut.address
        assert worker.alive()
        pool.kill(0)  # SIGKILL of the process group: nothing of it is left in the host
        assert cut.pids() == []


def connects(address: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        socket.create_connection((address, port), timeout=timeout_s).close()
        return True
    except OSError:
        return False


@pytest.mark.timeout(120)
def test_cut_all_loses_the_host_both_ways_until_healed(
        simulated_host: OpenHost, tmp_path: Path) -> None:
    port = free_port()
    lost = simulated_host("lost", 0, redis_port=port)
    with machine_services(tmp_path, port, [lost]) as (settings, emulator):
        listener = lost.run(python_argv("-c", LISTEN, lost.address, "8000"), {}, tmp_path)
        wait_until(lambda: "listening" in listener.log_text(), 20, "the host's listener")
        assert connects(lost.address, 8000)
        lost.cut_all()
        assert not connects(lost.address, 8000)  # the machine cannot reach the host...
        assert not lost.redis_answers(settings.redis_url)  # ...nor the host the machine
        assert not lost.http_answers(f"{emulator.url}/_emulator/health", timeout_s=1.0)
        lost.heal_all()
        assert connects(lost.address, 8000)
        assert lost.redis_answers(settings.redis_url)
        lost.cut_all()
        started = time.monotonic()
        assert listener.stop() == -signal.SIGKILL  # a lost host's processes are not drained
        assert time.monotonic() - started < 5


@pytest.mark.timeout(120)
def test_a_clock_offset_moves_wall_time_not_monotonic(
        simulated_host: OpenHost, tmp_path: Path) -> None:
    port = free_port()
    ahead = simulated_host("ahead", 0, redis_port=port, clock_offset_s=5.0)
    wall_before, mono_before = time.time(), time.monotonic()
    done = ahead.exec(python_argv("-c", CLOCKS))
    wall_after, mono_after = time.time(), time.monotonic()
    assert done.returncode == 0, done.stderr
    wall, mono, slept = json.loads(done.stdout)
    assert wall_before + 5.0 - 1e-3 <= wall <= wall_after + 5.0 + 1e-3
    assert mono_before <= mono <= mono_after  # the machine's monotonic clock, not offset
    assert 0.25 <= slept < 2.0  # time.sleep() works under libfaketime (monosleep.c)
    # and the GIL is handed over as on a real host, after its 5 ms switch interval (under
    # bare libfaketime, 1.3-1.6 ms at +5 s here: it thrashes and sends stall; monosleep.c).
    gil = ahead.exec(python_argv("-c", GIL_WAIT))
    assert gil.returncode == 0, gil.stderr
    assert float(gil.stdout) > 0.002, gil.stdout
    with machine_services(tmp_path, port, [ahead]) as (settings, emulator), \
            one_worker(settings, ahead, tmp_path / "logs"):
        outcome = deliver(settings, "clock-ahead")
        post = post_of(emulator, "clock-ahead")
    # The worker's clock is 5 s ahead, yet its attempt is logged on Redis's clock (the
    # claim answers with it, worker/delivery.py `Clock`): just before the POST arrived.
    skew = outcome["attempts"][0]["started_at"] - post["time"]
    assert -1.0 < skew <= 1e-3, skew


def test_what_a_crashed_run_left_is_swept_and_a_live_run_is_not(
        simulated_host: OpenHost) -> None:
    live = simulated_host("live", 0)
    crash = ("import os; from tests.faults.hosts import SimulatedHost; "
             "print(SimulatedHost('crashed', 0).open().link.netns, flush=True); os._exit(9)")
    done = subprocess.run(python_argv("-c", crash), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)  # os._exit: no atexit, no finalizer, as in a crash
    left = done.stdout.strip()
    assert left in ours()["netns"], done.stderr
    with machine_lock():
        swept = sweep_stale()
    assert left in swept
    assert left not in ours()["netns"]
    assert not [link for link in ours()["links"] if left.split("-")[1] in link]
    assert live.link.netns in ours()["netns"]  # a live run's hosts are left alone


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_namespaces_it_skips_locally_and_fails_in_ci(
        monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setattr(hosts, "_unavailable", ["not root (a test double)"])
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="not root"):
        require_hosts()
