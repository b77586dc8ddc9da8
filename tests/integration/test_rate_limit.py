"""The shared rate limit through real worker processes, read off the emulator's arrival times."""

from __future__ import annotations

import re

import pytest

from notify_relay.processes import wait_until
from producers.keys import Keys
from tests.integration.helpers import example, posts_for
from worker.store.limiter import RateLimiter

pytestmark = pytest.mark.integration


def most_in_any_window(times: list[float], window_s: float = 1.0) -> int:
    """The most arrivals in any window [t, t + window_s) that starts at an arrival."""
    ordered = sorted(times)
    most, end = 0, 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end] < first + window_s:
            end += 1
        most = max(most, end - start)
    return most


def wait_all_succeeded(producer, job_ids: list[str], timeout: float) -> None:
    for job_id in job_ids:
        outcome = producer.wait(job_id, timeout=timeout)
        assert outcome["status"] == "succeeded", outcome


def notify_times(received: list[dict]) -> list[float]:
    return [r["time"] for r in received if r["path"] == "/messaging/v2/notify"]


def test_two_workers_never_send_more_than_limit_plus_burst_in_any_second(
        producer, start_worker, settings, emulator_client):
    # 2 x 16 threads at 20/s: more threads than one second of slots, so some jobs are
    # parked with their reservation and come back for it, and some sleep inline.
    limited = settings.replace(rate_limit="20/s", concurrency=16)
    workers = [start_worker(settings_override=limited) for _ in range(2)]

    job_ids = producer.enqueue_many([example() for _ in range(300)])
    emulator_client.wait_for_requests(300, timeout=45)
    wait_all_succeeded(producer, job_ids, timeout=10)

    times = notify_times(emulator_client.requests())
    assert len(times) == 300  # each job sent once
    assert most_in_any_window(times) <= 20 + 20
    # 20 at once, then one every 1/20 s: the last of 300 goes (300 - 20) / 20 s later.
    assert max(times) - min(times) >= (300 - 20) / 20 - 0.25
    assert any(re.search(r"rate.limited", w.log_text()) for w in workers)  # some were parked


def test_a_429_stops_its_application_for_retry_after_while_another_keeps_flowing(
        producer, start_worker, settings, emulator_client):
    hit, flowing = "HITAP-00001", "FLOWS-00001"
    emulator_client.script({"kind": "respond", "status": 429, "headers": {"Retry-After": "3"},
                            "match": {"application": hit}, "count": 1})
    # Per-application limits space each application's sends, so none of `hit`'s sends
    # is in flight when its 429 comes back (that one could not be recalled).
    start_worker(settings_override=settings.replace(
        rate_limit="40/s", app_rate_limits=f"{hit}=4/s:1,{flowing}=20/s:1"))

    job_ids = producer.enqueue_many([example(application=hit) for _ in range(4)]
                                    + [example(application=flowing) for _ in range(50)])
    wait_all_succeeded(producer, job_ids, timeout=40)

    received = emulator_client.requests()
    hits, flows = posts_for(received, hit), posts_for(received, flowing)
    assert [r["status"] for r in hits] == [429, 200, 200, 200, 200]
    refused_at = hits[0]["time"]
    assert hits[1]["time"] - refused_at >= 3.0
    during = [r["time"] for r in flows if refused_at < r["time"] < refused_at + 3.0]
    assert len(during) >= 15  # at 20/s halved by the 429: about 30
    assert max(b - a for a, b in zip(during, during[1:], strict=False)) < 0.5


def test_the_429_and_the_waits_show_in_the_limiter_snapshot(
        producer, start_worker, settings, emulator_client, redis_client):
    emulator_client.script({"kind": "respond", "status": 429, "headers": {"Retry-After": "2"},
                            "count": 1})
    limited = settings.replace(rate_limit="10/s:2")
    start_worker(settings_override=limited)
    limiter = RateLimiter.from_settings(redis_client, Keys(limited.key_prefix), limited)

    job_ids = producer.enqueue_many([example() for _ in range(6)])
    # Not "two rows": the application's row also appears as soon as one of its sends waits.
    wait_until(lambda: limiter.snapshot()[0]["factor"] < 1.0, 20, "the 429 to reach the limiter")

    token_row, app_row = limiter.snapshot()
    assert (token_row["factor"], token_row["effective_per_s"]) == (0.5, 5.0)
    assert app_row["application"] == example()["transactional"]["application"]
    assert app_row["throttled_until"] is not None
    wait_all_succeeded(producer, job_ids, timeout=20)
    assert limiter.snapshot()[0]["waits"] >= 3
