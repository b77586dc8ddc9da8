"""`notify-relay metrics` after a run through two real workers: counters match the outcomes."""

from __future__ import annotations

import os
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
