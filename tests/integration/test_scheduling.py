"""A scarce send budget through real workers and the emulator: priorities, fair share,
exact pacing, any backlog. Times are the emulator's arrival times (same host, same clock).
"""

from __future__ import annotations

import time

import pytest

from producers import Producer
from tests.integration.helpers import example, posts_for

pytestmark = pytest.mark.integration

RATE = 10  # sends per second: a Pushwoosh account's budget, as the defaults have it
#: An urgent job is sent within max(1 s, two send intervals) of its enqueue.
URGENT_BOUND_S = max(1.0, 2 / RATE)


def most_in_any_window(times: list[float], window_s: float = 1.0) -> int:
    """The most arrivals in any window [t, t + window_s) that starts at an arrival."""
    ordered = sorted(times)
    most, end = 0, 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end] < first + window_s:
            end += 1
        most = max(most, end - start)
    return most


def arrival(emulator_client, application: str, count: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        posts = posts_for(emulator_client.requests(), application)
        if len(posts) >= count or time.monotonic() > deadline:
            return posts
        time.sleep(0.05)


@pytest.fixture
def budget(settings):
    return settings.replace(rate_limit=f"{RATE}/s", concurrency=16)


def test_two_workers_never_send_more_than_the_limit_plus_one_in_any_second(
        producer, start_worker, budget, emulator_client):
    for _ in range(2):
        start_worker(settings_override=budget)
    job_ids = producer.enqueue_many([example() for _ in range(60)])
    emulator_client.wait_for_requests(60, timeout=30)
    assert {producer.wait(j, timeout=10)["status"] for j in job_ids} == {"succeeded"}
    times = [r["time"] for r in emulator_client.requests()]
    assert len(times) == 60  # each job once
    assert most_in_any_window(times) <= RATE + 1
    assert max(times) - min(times) >= (60 - 1) / RATE - 0.2  # no burst at the start


def test_urgent_jobs_enqueued_behind_a_backlog_are_sent_within_the_bound(
        producer, start_worker, budget, emulator_client):
    start_worker(settings_override=budget)
    producer.enqueue_many([example(application="BULK-00001") for _ in range(300)],
                          priority="bulk")
    arrival(emulator_client, "BULK-00001", 20)  # the campaign is under way
    enqueued = {}
    for _ in range(3):
        job_id = producer.enqueue(example(application="OTP-00001"), priority="urgent")
        enqueued[job_id] = time.time()
    posts = arrival(emulator_client, "OTP-00001", 3)
    assert len(posts) == 3
    for job_id, at in enqueued.items():
        outcome = producer.wait(job_id, timeout=10)
        sent_at = outcome["attempts"][0]["started_at"]
        assert sent_at - at <= URGENT_BOUND_S, (job_id, sent_at - at)


def test_another_applications_jobs_are_not_stuck_behind_a_backlog(
        producer, start_worker, budget, emulator_client):
    start_worker(settings_override=budget)
    producer.enqueue_many([example(application="BIGAP-00001") for _ in range(300)])
    arrival(emulator_client, "BIGAP-00001", 10)
    start = time.time()
    producer.enqueue_many([example(application="SMALL-00001") for _ in range(10)])
    posts = arrival(emulator_client, "SMALL-00001", 10)
    # taking turns: ten of its own in about twenty send intervals, not behind 290 others
    assert len(posts) == 10 and posts[-1]["time"] - start <= 20 / RATE + 1.0


def test_bulk_keeps_its_share_under_a_flood_of_normal_work(
        producer, start_worker, budget, emulator_client):
    # Both wait before a worker starts: with one already running, the bulk jobs went out
    # alone (rightly: nothing else waited) until the flood's enqueue came, 11 of 40 in CI.
    producer.enqueue_many([example(application="CAMPA-00001") for _ in range(50)],
                          priority="bulk")
    producer.enqueue_many([example(application="FLOOD-00001") for _ in range(200)])
    start_worker(settings_override=budget.replace(bulk_share=0.2))
    emulator_client.wait_for_requests(40, timeout=30)
    first_40 = emulator_client.requests()[:40]
    bulk = len(posts_for(first_40, "CAMPA-00001"))
    assert 6 <= bulk <= 10  # one send in five


def test_a_429_for_one_application_leaves_anothers_rate_untouched(
        producer, start_worker, settings, emulator_client):
    hit, flowing = "HITAP-00001", "FLOWS-00001"
    emulator_client.script({"kind": "respond", "status": 429, "headers": {"Retry-After": "3"},
                            "match": {"application": hit}, "count": 1})
    # `hit` at 1/s: none of its sends is under way when its 429 comes back (those could
    # not be recalled); the rest of the token's 20/s is `flowing`'s.
    start_worker(settings_override=settings.replace(
        rate_limit="20/s", app_rate_limits=f"{hit}=1/s", backoff_max_s=5.0))
    job_ids = producer.enqueue_many([example(application=hit) for _ in range(5)]
                                    + [example(application=flowing) for _ in range(60)])
    assert {producer.wait(j, timeout=40)["status"] for j in job_ids} == {"succeeded"}

    received = emulator_client.requests()
    hits, flows = posts_for(received, hit), posts_for(received, flowing)
    assert hits[0]["status"] == 429 and [r["status"] for r in hits[1:]] == [200] * 5
    refused_at = hits[0]["time"]
    assert hits[1]["time"] - refused_at >= 3.0 - 0.05
    during = [r["time"] for r in flows if refused_at + 0.2 < r["time"] < refused_at + 2.8]
    assert len(during) >= 0.8 * 19 * 2.6  # the token's rate, unhalved by the other's 429


def test_a_retry_keeps_its_priority(producer, start_worker, budget, emulator_client):
    emulator_client.script({"kind": "respond", "status": 503, "count": 1,
                            "match": {"application": "OTP-00001"}})
    start_worker(settings_override=budget)
    producer.enqueue_many([example(application="BULK-00001") for _ in range(100)],
                          priority="bulk")
    job_id = producer.enqueue(example(application="OTP-00001"), priority="urgent")
    outcome = producer.wait(job_id, timeout=20)
    assert [a["outcome"] for a in outcome["attempts"]] == ["transient", "success"]
    assert outcome["priority"] == "urgent"
    failed, sent = outcome["attempts"]
    # back at the head of the urgent list: sent within the bound after its backoff
    assert sent["started_at"] - (failed["started_at"] + failed["retry_in_s"]) <= URGENT_BOUND_S


def test_an_urgent_job_is_sent_within_the_bound_behind_100000_waiting(
        settings, start_worker, emulator_client, redis_client):
    fast = settings.replace(rate_limit=f"{RATE}/s")
    producer = Producer(settings=fast)
    try:
        request = example(application="CAMPA-00001")
        for _ in range(10):
            producer.enqueue_many([request] * 10_000, priority="bulk")
        start_worker(settings_override=fast)
        arrival(emulator_client, "CAMPA-00001", 5)
        at = time.time()
        job_id = producer.enqueue(example(application="OTP-00001"), priority="urgent")
        outcome = producer.wait(job_id, timeout=10)
        assert outcome["status"] == "succeeded"
        assert outcome["attempts"][0]["started_at"] - at <= URGENT_BOUND_S
    finally:
        producer.close()
