"""`notify-relay worker`: N supervised worker processes on one host, through real processes."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from notify_relay.processes import Service, wait_until
from producers.keys import Keys
from tests.conftest import ROOT
from tests.integration.helpers import example
from worker.store.heartbeat import live_workers

pytestmark = pytest.mark.integration

HOST = socket.gethostname()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def supervise(settings, tmp_path):
    started: list[Service] = []

    def start(*args: str) -> Service:
        env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-m", "notify_relay.cli", "worker", *args]
        started.append(Service(f"workers-{len(started)}", argv, env, tmp_path / "logs"))
        return started[-1]

    yield start
    for service in started:
        service.stop(timeout=30)


def nodes(redis_client, settings) -> set[str]:
    return set(live_workers(redis_client, Keys(settings.key_prefix), time.time()))


def test_it_starts_n_named_processes_that_all_deliver(supervise, settings, redis_client,
                                                      producer):
    service = supervise("--processes", "2", "--loglevel", "INFO")
    wanted = {f"worker0@{HOST}", f"worker1@{HOST}"}
    wait_until(lambda: nodes(redis_client, settings) >= wanted, 60, "two live workers")
    assert len(children(service.proc.pid)) == 2
    job_ids = producer.enqueue_many([example() for _ in range(10)])
    assert {producer.wait(j, timeout=30)["status"] for j in job_ids} == {"succeeded"}


def test_arguments_reach_celery(supervise, settings, redis_client):
    supervise("--processes", "2", "-n", f"custom@{HOST}")
    wanted = {f"custom0@{HOST}", f"custom1@{HOST}"}
    wait_until(lambda: nodes(redis_client, settings) >= wanted, 60, "the named workers")


def test_a_killed_process_is_replaced(supervise, settings, redis_client):
    service = supervise("--processes", "2")
    wait_until(lambda: len(nodes(redis_client, settings)) == 2, 60, "two live workers")
    first = sorted(children(service.proc.pid))
    os.kill(first[0], signal.SIGKILL)
    wait_until(lambda: len(children(service.proc.pid)) == 2
               and first[0] not in children(service.proc.pid), 30, "a replacement process")
    assert service.alive()


def test_sigterm_drains_every_process_and_exits_0(supervise, settings, redis_client, producer,
                                                  emulator_client):
    service = supervise("--processes", "2")
    wait_until(lambda: len(nodes(redis_client, settings)) == 2, 60, "two live workers")
    emulator_client.set_latency(1000)
    job_id = producer.enqueue(example())
    emulator_client.wait_for_requests(1, timeout=15)  # a send in flight
    workers = children(service.proc.pid)
    assert service.stop(timeout=30) == 0
    assert producer.outcome(job_id)["status"] == "succeeded"  # it finished, and recorded
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
