"""Nothing is lost: thousands of jobs through real workers, Redis and endpoint under faults.

Each scenario enqueues its jobs while the faults happen, waits until every job is final,
and reconciles job by job (see `reconcile.py` for the exact rules). The rules are the
same for every scenario; what differs is the fault and the evidence that it really hit
work in flight (a scenario whose fault missed would prove nothing).

Run alone: `pytest -m faults tests/faults -q`. Reports are in the terminal summary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.conftest import ScenarioFactory
from tests.faults.failover import FailoverScenario
from tests.faults.reconcile import Reconciliation
from tests.faults.runner import Plan, Scenario

pytestmark = pytest.mark.faults

Publish = Callable[[Reconciliation], str]


def exclusive(*faults: tuple[float, dict[str, Any]]) -> list[dict[str, Any]]:
    """Faults that each hit the given share of all requests.

    The emulator rolls each fault's probability in order, only for requests no earlier
    fault took, so fault k gets rate_k / (1 - the rates before it).
    """
    scripted, taken = [], 0.0
    for seed, (rate, fault) in enumerate(faults, start=1):
        scripted.append({**fault, "probability": rate / (1.0 - taken), "seed": seed})
        taken += rate
    return scripted


#: 10 % 503, 2 % 429 with Retry-After, 1 % hang past the 2 s read timeout (then the
#: endpoint creates the message anyway: the answer the worker never saw), 1 % garbage
#: body (half with a 200: sent, unreadable; half a load balancer's HTML 502).
FLAKY_ENDPOINT = exclusive(
    (0.10, {"kind": "respond", "status": 503, "name": "503"}),
    (0.02, {"kind": "respond", "status": 429, "headers": {"Retry-After": "1"}, "name": "429"}),
    (0.01, {"kind": "hang", "hang_s": 3, "name": "hang"}),
    (0.005, {"kind": "garbage", "status": 200, "name": "garbage-200"}),
    (0.005, {"kind": "garbage", "status": 502, "name": "garbage-502"}),
)


#: An endpoint (or what stands in front of it) that answers in ways meant to break a
#: client (security review H1, M2, M7, M8): a 200 that drips one byte every 0.2 s for ever
#: (only the send's own deadline ends it: an ambiguous attempt), a gzip body inflating to
#: 200 MB, a 20 MB body, 200,000 nested arrays, and 429s with absurd Retry-After values.
HOSTILE_ENDPOINT = exclusive(
    (0.02, {"kind": "drip", "drip_interval_s": 0.2, "framing": "chunked", "name": "drip"}),
    (0.02, {"kind": "gzip_bomb", "inflated_mb": 200, "name": "gzip-bomb"}),
    (0.02, {"kind": "huge_body", "size_mb": 20, "name": "huge-body"}),
    (0.02, {"kind": "deep_nesting", "depth": 200_000, "name": "deep-nesting"}),
    (0.01, {"kind": "respond", "status": 429, "headers": {"Retry-After": "\u00b2"},
            "name": "retry-after-superscript"}),
    (0.01, {"kind": "respond", "status": 429, "headers": {"Retry-After": "31536000"},
            "name": "retry-after-a-year"}),
    (0.01, {"kind": "respond", "status": 429, "headers": {"Retry-After": "-5"},
            "name": "retry-after-negative"}),
)
#: A worker process holds far less than one inflated bomb (200 MB) at its peak.
HOSTILE_PEAK_RSS_MB = 150


def run(scenario: Scenario, publish: Publish,
        figures: Callable[[Scenario], list[str]] | None = None) -> Reconciliation:
    """Run, publish the report (with the scenario's own `figures` among its notes), check."""
    result = scenario.run()
    result.notes += figures(scenario) if figures else []
    report = publish(result)
    assert result.enqueued == scenario.plan.jobs, report
    assert result.lost == [], report
    assert result.stuck == [], report
    assert result.dead_by_reason == {}, report  # no fault here makes dead the right answer
    assert result.problems == [], report
    # Every scheduled fault happened, and met work in flight, or the run proves nothing.
    assert len(scenario.injected) == len(scenario.schedule), report
    assert all(i.pending > 0 for i in scenario.injected), report
    return result


@pytest.mark.timeout(180)
def test_a_worker_sigkilled_every_few_seconds_loses_nothing(
        scenario: ScenarioFactory, publish: Publish) -> None:
    # A small batch every 0.1 s and slow answers; each kill waits for a worker whose POSTs
    # the endpoint holds open, and kills that one.
    s = scenario(Plan("worker-sigkill", feed_s=14.0, batches=140, latency_ms=200.0,
                      deadline_s=70.0))
    s.every(3.0, "SIGKILL a worker mid-send, start a new one", s.kill_a_worker_mid_send,
            start_s=1.5, until_s=13.5)
    result = run(s, publish)
    assert s.workers.kills == 5
    # Every job a kill caught mid-send (POST received, result never recorded) was taken
    # over after its lease and carries the "worker lost" attempt that says so.
    assert len(s.caught) >= s.workers.kills, f"kills caught only {s.caught}"
    missing = set(s.caught) - set(result.worker_lost_jobs)
    assert not missing, f"caught mid-send, yet no worker-lost attempt: {missing}"


@pytest.mark.timeout(180)
def test_a_redis_crash_and_restart_from_the_aof_loses_nothing(
        scenario: ScenarioFactory, publish: Publish) -> None:
    # Endpoint latency keeps sends in flight when Redis dies (workers keep up otherwise).
    s = scenario(Plan("redis-crash", feed_s=10.0, latency_ms=150.0, deadline_s=70.0))
    s.redis_outage(at_s=4.0, for_s=5.0)
    run(s, publish)
    assert s.redis.crashes == 1


@pytest.mark.timeout(180)
def test_an_endpoint_down_for_20_s_loses_nothing(
        scenario: ScenarioFactory, publish: Publish) -> None:
    s = scenario(Plan("endpoint-down", feed_s=10.0, deadline_s=80.0))
    s.endpoint_outage(at_s=3.0, for_s=20.0)
    result = run(s, publish)
    refused = result.attempt_outcomes.get("transient", 0)
    assert refused > 0, "no send met the refused connection"


@pytest.mark.timeout(180)
def test_a_flaky_endpoint_loses_nothing(scenario: ScenarioFactory, publish: Publish) -> None:
    s = scenario(Plan("flaky-endpoint", jobs=1500, feed_s=8.0, deadline_s=70.0,
                      emulator_faults=FLAKY_ENDPOINT))
    result = run(s, publish)
    assert_every_fault_fired(result)


@pytest.mark.timeout(240)
@pytest.mark.timeout(180)
def test_a_hostile_endpoint_makes_no_job_lost_sent_twice_unflagged_or_heavy(
        scenario: ScenarioFactory, publish: Publish) -> None:
    s = scenario(Plan("hostile-endpoint", jobs=600, feed_s=6.0, deadline_s=80.0,
                      emulator_faults=HOSTILE_ENDPOINT))
    result = run(s, publish)  # lost 0; a second 2xx only after an ambiguous attempt
    assert_every_fault_fired(result, HOSTILE_ENDPOINT)
    drips = result.endpoint_answers.get("200 drip", 0)
    assert drips > 0 and result.ambiguous_attempts >= drips  # cut by the send's deadline
    assert max(s.workers.peak_rss_mb) < HOSTILE_PEAK_RSS_MB, s.workers.peak_rss_mb


@pytest.mark.timeout(180)
def test_a_sentinel_failover_loses_no_acknowledged_job(tmp_path, publish: Publish) -> None:
    # The feeder waits for one replica per enqueue (NOTIFY_ENQUEUE_MIN_REPLICAS=1) and
    # retries a refused batch with the same keys. A batch every 0.3 s, each send 0.3 s: the
    # batch of 6.0 s is in flight at 6.15 s, and the kill waits for a send open at the
    # endpoint (with 0.1 s sends, 1 run in 5 found every job final at the kill).
    s = FailoverScenario(Plan("sentinel-failover", feed_s=12.0, latency_ms=300.0,
                              deadline_s=80.0), tmp_path)
    s.at(6.15, "SIGKILL the primary mid-send; the sentinels promote a replica", s.failover)
    run(s, publish, lambda s: [f"failover took {t:.1f}s" for t in s.failovers_s])
    assert s.failovers_s, "the primary was never killed"
    assert s.workers.exits == [], s.workers.exits  # the workers rode it out, unrestarted


@pytest.mark.timeout(240)
def test_all_faults_at_once_lose_nothing(scenario: ScenarioFactory, publish: Publish) -> None:
    s = scenario(Plan("all-at-once", feed_s=20.0, latency_ms=100.0, deadline_s=110.0,
                      emulator_faults=FLAKY_ENDPOINT))
    s.every(4.0, "SIGKILL a worker, start a new one", s.kill_next_worker,
            start_s=2.0, until_s=30.0)
    s.redis_outage(at_s=7.0, for_s=5.0)
    s.endpoint_outage(at_s=15.0, for_s=20.0)
    result = run(s, publish)
    assert_every_fault_fired(result)
    assert s.redis.crashes == 1


def assert_every_fault_fired(result: Reconciliation,
                             faults: list[dict[str, Any]] = FLAKY_ENDPOINT) -> None:
    fired = {answer.split(" ", 1)[-1] for answer in result.endpoint_answers}
    missing = {fault["name"] for fault in faults} - fired
    assert not missing, f"faults that never fired: {missing}"
