"""Several hosts, proven: worker hosts in network namespaces, partitioned, lost, skewed.

Each scenario runs real workers on simulated hosts (hosts.py: a netns each, with its own
link to this machine's Redis and emulator) and reconciles job by job, as test_scenarios.py
does (lost 0, a second POST only after an ambiguous attempt, no rule broken). What differs
is the fault, and the evidence that it met work in flight.

Run alone: `pytest -m faults tests/faults/test_hosts_scenarios.py -q` (as root: namespaces).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.hosts import HostScenario
from tests.faults.reconcile import is_2xx, marker_of
from tests.faults.runner import Plan
from tests.faults.test_scenarios import Publish, run

pytestmark = pytest.mark.faults

HostScenarioFactory = Callable[..., HostScenario]
#: Sends per second across every host, in the scenarios that pace.
RATE = 20
#: How late after its slot a send may arrive at the emulator, for the pacing checks. The
#: limiter bounds slots: no 1-second window holds more than RATE + 1. An arrival trails its
#: slot by the sender's wake-up, the POST and the emulator's own timestamp: milliseconds on
#: an idle machine, up to ~0.15 s on this shared 2-core one under other sessions' load,
#: which alone puts a 22nd arrival into a second now and then. Arrivals within JITTER_S of
#: their slots hold RATE + 1 in any window of 1 s - JITTER_S; a second host spending its own
#: budget (2 x RATE) or a burst would not.
JITTER_S = 0.25
#: A retry starts once due (Redis's clock), and soon after: the mover looks every 0.2 s,
#: then it waits for a slot. A host that took its own clock for Redis's would be off by
#: its offset (5 or 30 s) one way or the other.
RETRY_EARLY_S, RETRY_LATE_S = 0.05, 2.0
FLAKY_503 = [{"kind": "respond", "status": 503, "probability": 0.1, "seed": 7, "name": "503"}]


def posts(s: HostScenario) -> list[dict[str, Any]]:
    return [r for r in s.emulator.records if r["path"].endswith("/notify")]


def densest(times: list[float], window_s: float) -> tuple[int, int]:
    """The most arrivals in any window [t, t + window_s) that starts at an arrival, and the
    index (in sorted `times`) of the first of them."""
    ordered, best, end = sorted(times), (0, 0), 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end] < first + window_s:
            end += 1
        best = max(best, (end - start, -start))
    return best[0], -best[1]


def window_report(s: HostScenario, window_s: float) -> str:
    """The busiest window's arrivals, for a failure's message: ms from its first, host, and
    how long after its attempt's start (Redis's clock) each arrived."""
    names = {h.address: h.name for h in s.hosts}
    markers = {job_id: marker for marker, job_id in s.jobs.items()}
    starts: dict[str, list[float]] = {}
    for job_id, record in s.records.items():
        for a in (record or {}).get("attempts", []):
            starts.setdefault(markers[job_id], []).append(a["started_at"])
    ordered = sorted(posts(s), key=lambda p: p["time"])
    count, first = densest([p["time"] for p in ordered], window_s)
    rows = []
    for post in ordered[first:first + count]:
        began = max((t for t in starts.get(marker_of(post["body"]) or "", [])
                     if t <= post["time"]), default=post["time"])
        rows.append(f"{(post['time'] - ordered[first]['time']) * 1000:.0f}ms "
                    f"{names.get(post['peer'])} +{(post['time'] - began) * 1000:.0f}")
    return f"{count} arrivals in {window_s:g} s: " + ", ".join(rows)


def assert_paced(s: HostScenario, report: str) -> None:
    arrivals = [p["time"] for p in posts(s)]
    window_s = 1.0 - JITTER_S
    assert densest(arrivals, window_s)[0] <= RATE + 1, f"{window_report(s, window_s)}\n{report}"
    # and the budget was what held them back: no burst at the start either
    assert max(arrivals) - min(arrivals) >= (len(arrivals) - 1) / RATE - 0.2, report


def timed(action: Callable[[], None], at: list[float]) -> Callable[[], None]:
    """`action`, noting when it was done on this machine's clock (the emulator's)."""

    def act() -> None:
        action()
        at.append(time.time())

    return act


def peers(s: HostScenario, job_ids: list[str]) -> dict[str, set[str]]:
    """Job id -> the addresses its 2xx POSTs came from."""
    markers = {job_id: marker for marker, job_id in s.jobs.items()}
    wanted = {markers[job_id]: job_id for job_id in job_ids}
    found: dict[str, set[str]] = {job_id: set() for job_id in job_ids}
    for post in posts(s):
        marker = marker_of(post["body"])
        if marker in wanted and is_2xx(post):
            found[wanted[marker]].add(post["peer"])
    return found


def attempts(s: HostScenario) -> list[list[dict[str, Any]]]:
    """Each job's attempt log, in order."""
    return [sorted(r["attempts"], key=lambda a: a["number"]) for r in s.records.values() if r]


def retry_gaps(s: HostScenario) -> list[float]:
    """For every retry: how long after it was due (its attempt's end + retry_in_s) the next
    attempt started. Negative is early."""
    gaps = []
    for log in attempts(s):
        for before, after in zip(log, log[1:], strict=False):
            if before.get("retry_in_s") is not None:
                due = before["started_at"] + before["duration_ms"] / 1000 + before["retry_in_s"]
                gaps.append(after["started_at"] - due)
    return gaps


def by_host(s: HostScenario) -> str:
    count = Counter(post["peer"] for post in posts(s))
    return ", ".join(f"{h.name} {count[h.address]}" for h in s.hosts)


def pacing(s: HostScenario) -> list[str]:
    """The figures of a paced run, for its report."""
    arrivals = [post["time"] for post in posts(s)]
    return [f"busiest second       {densest(arrivals, 1.0)[0]} POSTs, busiest "
            f"{1 - JITTER_S:g} s {densest(arrivals, 1 - JITTER_S)[0]} (limit {RATE}/s; over "
            f"{max(arrivals) - min(arrivals):.1f} s; by host: {by_host(s)})"]


@pytest.mark.timeout(150)
def test_a_host_cut_from_redis_past_the_visibility_timeout_then_healed(
        host_scenario: HostScenarioFactory, publish: Publish) -> None:
    # Jobs keep coming long after the heal: a healed host's Celery consumer resumes only
    # when TCP retransmits Redis's last reply to its BRPOP, backing off exponentially: up
    # to about the cut's length after the heal (5-7 s after an 8 s cut, as measured).
    s = host_scenario(Plan("host-redis-cut", jobs=440, workers=2, concurrency=8, feed_s=26.0,
                           batches=88, latency_ms=400.0, deadline_s=80.0), hosts=2)
    cut, other = s.hosts
    cut_at: list[float] = []
    healed: list[float] = []
    s.at(2.0, f"cut {cut.name} from Redis mid-send",
         timed(lambda: s.cut_mid_send(cut, cut.cut_redis, at_least=3), cut_at))
    cut_s = s.settings.visibility_timeout_s + 2.0

    def heal() -> None:  # cut_s after the cut itself (it waits for sends to catch)
        time.sleep(max(0.0, cut_at[0] + cut_s - time.time()) if cut_at else 0.0)
        cut.heal_redis()

    s.at(2.0 + cut_s, f"heal {cut.name}", timed(heal, healed))

    def back(_: object) -> list[str]:
        if not (cut_at and healed):
            return ["the cut or the heal did not happen"]
        again = min((p["time"] for p in posts(s)
                     if p["peer"] == cut.address and p["time"] > healed[0]), default=None)
        return [f"{cut.name} cut from Redis for {healed[0] - cut_at[0]:.1f} s, sent again "
                + (f"{again - healed[0]:.1f} s after the heal" if again else "never")
                + f"; POSTs by host: {by_host(s)}"]

    result = run(s, publish, back)
    report = result.report()
    assert healed[0] - cut_at[0] > s.settings.visibility_timeout_s, report
    assert s.caught, report
    # What it held was taken over by the other host (kombu or the watchdog gave it back) ...
    assert result.worker_lost_jobs, report
    # ... and its own results, recorded in the cut and reaching Redis after the heal (TCP
    # retransmits what was sent), were logged as late and changed nothing: each such job
    # is succeeded by the other host's attempt (`run` checked every record).
    assert result.late_attempts > 0, report
    for log in attempts(s):
        if any(a["late"] for a in log):
            assert [a["outcome"] for a in log if not a["late"]][-1] == "success", log
    assert [p for p in posts(s) if p["peer"] == cut.address and p["time"] > healed[0]], report
    assert any(p["peer"] == other.address for p in posts(s)), report


@pytest.mark.timeout(150)
def test_a_host_lost_mid_send_and_never_back(
        host_scenario: HostScenarioFactory, publish: Publish) -> None:
    s = host_scenario(Plan("host-lost", jobs=300, workers=2, concurrency=8, feed_s=6.0,
                           batches=30, latency_ms=400.0, deadline_s=70.0), hosts=2)
    lost, other = s.hosts
    lost_at: list[float] = []
    s.at(2.0, f"lose {lost.name} mid-send (never healed)",
         timed(lambda: s.cut_mid_send(lost, lost.cut_all, at_least=3), lost_at))
    result = run(s, publish, lambda _: [f"POSTs by host: {by_host(s)}"])
    report = result.report()
    assert s.caught, report
    # Every job it was sending when it went is finished by the other host, after a
    # take-over that logged the lost send as ambiguous ("worker lost"). Its own POSTs
    # were answered too; the answers never reached it.
    assert not set(s.caught) - set(result.worker_lost_jobs), report
    assert all(other.address in found for found in peers(s, s.caught).values()), report
    assert not [p for p in posts(s) if p["peer"] == lost.address and p["time"] > lost_at[0]]


@pytest.mark.timeout(150)
def test_hosts_whose_clocks_are_off_by_30_s_keep_one_pace_and_one_timeline(
        host_scenario: HostScenarioFactory, publish: Publish) -> None:
    # Every time the limiter, the retry park, leases and expiry use is Redis's (the scripts
    # call TIME), and attempts are logged on Redis's clock too: a host's skew is tolerated,
    # whatever it is. 10 % of sends get a 503, so retries go through the park.
    s = host_scenario(Plan("clock-skew", jobs=150, workers=3, concurrency=4, feed_s=2.0,
                           batches=10, latency_ms=100.0, deadline_s=60.0,
                           emulator_faults=FLAKY_503),
                      hosts=3, clock_offsets_s=(30.0, -30.0, 5.0), rate_limit=f"{RATE}/s")

    def figures(_: object) -> list[str]:
        gaps = retry_gaps(s)
        offsets = ", ".join(f"{h.name} {h.clock_offset_s:+g} s" for h in s.hosts)
        return [*pacing(s), f"clock offsets        {offsets}; {len(gaps)} retries "
                f"started {min(gaps, default=0):+.3f}..{max(gaps, default=0):+.3f} s from due"]

    result = run(s, publish, figures)
    report = result.report()
    assert_paced(s, report)
    assert {p["peer"] for p in posts(s)} == {h.address for h in s.hosts}, report
    # Each attempt starts (Redis's clock) just before its POST arrives (this machine's
    # clock): the hosts' own clocks are in neither, and reconcile.py's one timeline holds.
    assert result.lags_s[0] >= 0.0 and result.lags_s[1] < 1.0, report
    gaps = retry_gaps(s)
    assert gaps, f"no retry went through the park\n{report}"
    assert min(gaps) >= -RETRY_EARLY_S and max(gaps) <= RETRY_LATE_S, report


@pytest.mark.timeout(150)
def test_one_rate_limit_holds_across_hosts(
        host_scenario: HostScenarioFactory, publish: Publish) -> None:
    s = host_scenario(Plan("shared-limit", jobs=200, workers=2, concurrency=4, feed_s=2.0,
                           batches=10, latency_ms=100.0, deadline_s=60.0), hosts=2,
                      rate_limit=f"{RATE}/s")
    result = run(s, publish, lambda _: pacing(s))
    report = result.report()
    assert {p["peer"] for p in posts(s)} == {h.address for h in s.hosts}, report
    assert_paced(s, report)
