"""`notify-relay metrics` after a run through two real workers: counters match the outcomes."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from notify_relay.cli.ops import command_argv
from notify_relay.processes import Service, free_port, wait_until
from producers import Producer
from producers.settings import Settings
from tests.conftest import ROOT
from tests.integration.helpers import example

pytestmark = pytest.mark.integration


@pytest.fixture
def exporter(settings: Settings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    service = Service("metrics", command_argv("metrics", "--host", "127.0.0.1", "--port",
                                              str(port)), env, tmp_path / "logs")
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(lambda: _answers(url) or not service.alive(), 30, "the metrics endpoint")
        assert service.alive(), service.log_text()
        yield url
    finally:
        service.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from one Prometheus text answer."""
    text = requests.get(url, timeout=5).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_the_metrics_endpoint_counts_what_the_workers_did(
        producer: Producer, start_worker, settings: Settings, emulator_client, exporter: str):
    emulator_client.script(
        {"kind": "respond", "status": 400, "count": 1, "match": {"application": "PERMA-11111"}},
        {"kind": "respond", "status": 503, "count": 2, "match": {"application": "TRANS-22222"}})
    start_worker()
    start_worker()  # two processes adding to the same counters
    requests_ = ([example(application="PERMA-11111"), example(application="TRANS-22222")]
                 + [example() for _ in range(8)])

    outcomes = [producer.wait(job_id, timeout=30) for job_id in producer.enqueue_many(requests_)]
    assert [o["status"] for o in outcomes].count("succeeded") == 9
    # Each process flushes its counters just after the outcome, on its own schedule:
    # poll the scrape until every process's share is in, not the clock.
    wait_until(lambda: scrape(exporter).get(("notify_relay_sent_total", ())) == 9
               and scrape(exporter).get(("notify_relay_send_duration_seconds_count", ())) == 12,
               10, "the exporter to count 9 sends out of 12 attempts")
    metrics = scrape(exporter)

    def value(name: str, **labels: str) -> float:
        return metrics.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("notify_relay_up") == 1
    assert value("notify_relay_send_attempts_total", outcome="success") == 9
    assert value("notify_relay_send_attempts_total", outcome="permanent") == 1
    assert value("notify_relay_send_attempts_total", outcome="transient") == 2
    assert value("notify_relay_retries_total", outcome="transient") == 2
    assert value("notify_relay_dead_letters_total", reason="permanent") == 1
    assert value("notify_relay_send_duration_seconds_count") == 12
    assert value("notify_relay_send_duration_seconds_bucket", le="+Inf") == 12
    assert 0 < value("notify_relay_send_duration_seconds_sum") < 12 * settings.read_timeout_s
    assert value("notify_relay_queue_depth", queue=settings.queue) == 0
    assert value("notify_relay_retries_parked") == 0
    assert value("notify_relay_dead_letters_stored") == 1
    assert value("notify_relay_circuit_open") == 0
    assert value("notify_relay_workers_live") == 2


def test_the_metrics_endpoint_says_so_when_redis_is_unreachable(tmp_path: Path):
    port = free_port()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    env = {**os.environ, **Settings(redis_url=dead_redis).to_env(), "PYTHONPATH": str(ROOT)}
    service = Service("metrics", command_argv("metrics", "--host", "127.0.0.1", "--port",
                                              str(port)), env, tmp_path / "logs")
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(lambda: _answers(url) or not service.alive(), 30, "the metrics endpoint")
        assert scrape(url)[("notify_relay_up", ())] == 0
    finally:
        service.stop()


def test_the_metrics_endpoint_listens_on_loopback_only_unless_told(tmp_path: Path):
    """H4: the exporter has no login, so without --host it binds 127.0.0.1, not every
    address. Its own listening sockets are read from /proc (by their inodes), and a
    connection through another address of this host is refused."""
    port = free_port()
    env = {**os.environ, **Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0").to_env(),
           "PYTHONPATH": str(ROOT)}  # no Redis needed: only where it listens matters
    service = Service("metrics", command_argv("metrics", "--port", str(port)), env,
                      tmp_path / "logs")
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/metrics") or not service.alive(),
                   30, "the metrics endpoint")
        assert listening(service.proc.pid) == {("127.0.0.1", port)}
        for address in other_local_addresses():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=5).close()
    finally:
        service.stop()


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on (IPv4 and IPv6)."""
    inodes = _socket_inodes(pid)
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: TCP_LISTEN
                found.add(_address(local, family))
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _address(hex_address: str, family: int) -> tuple[str, int]:
    """/proc/net/tcp's `0100007F:1F90` → ('127.0.0.1', 8080): 32-bit words in host order."""
    host, port = hex_address.split(":")
    words = [int(host[i:i + 8], 16) for i in range(0, len(host), 8)]
    packed = b"".join(word.to_bytes(4, sys.byteorder) for word in words)
    return socket.inet_ntop(family, packed), int(port, 16)


def other_local_addresses() -> list[str]:
    """This host's IPv4 addresses other than loopback (the kernel's local routes)."""
    lines = Path("/proc/net/fib_trie").read_text().splitlines()
    found = {lines[i - 1].split()[-1] for i, line in enumerate(lines)
             if "/32 host LOCAL" in line}
    return sorted(a for a in found if not ipaddress.ip_address(a).is_loopback)
