"""The dead-letter store against a real Redis: bounds, per-reason counts, filters."""

from __future__ import annotations

import pytest

from producers.job import Job
from producers.keys import Keys
from worker.store.deadletters import DeadLetterStore


def job(number: int, application: str = "APP-1") -> Job:
    request = {"transactional": {"application": application, "platforms": ["IOS"],
                                 "users": {"list": [f"user-{number}"]}}}
    return Job(job_id=f"job-{number}", request=request, enqueued_at=0.0, expires_at=1e12)


@pytest.fixture
def store(redis_client, key_prefix) -> DeadLetterStore:
    return DeadLetterStore(redis_client, Keys(key_prefix), max_count=3, ttl_s=100.0)


def add(store: DeadLetterStore, redis_client, number: int, reason: str, now: float,
        application: str = "APP-1") -> None:
    pipe = redis_client.pipeline()
    store.add(pipe, job(number, application), reason, "boom", now=now)
    pipe.execute()


def test_the_store_keeps_the_newest_entries_within_its_count_and_age(store, redis_client):
    for number in range(5):
        add(store, redis_client, number, "permanent", now=1000.0 + number)
    assert [e["job"]["job_id"] for e in store.iter_newest()] == ["job-4", "job-3", "job-2"]

    add(store, redis_client, 9, "expired", now=1200.0)  # 100 s later: every older one is too old
    assert [e["job"]["job_id"] for e in store.iter_newest()] == ["job-9"]
    assert store.count_by_reason() == {"permanent": 0, "max_attempts": 0, "expired": 1,
                                       "ambiguous": 0}


def test_counts_by_reason_follow_adds_trims_replaced_entries_and_purges(store, redis_client):
    add(store, redis_client, 1, "permanent", now=1000.0)
    add(store, redis_client, 2, "max_attempts", now=1001.0)
    add(store, redis_client, 2, "expired", now=1002.0)  # the same job, dead again
    assert store.count_by_reason()["max_attempts"] == 0
    assert store.count_by_reason()["expired"] == 1

    assert store.purge(reason="permanent") == 1
    assert store.count_by_reason() == {"permanent": 0, "max_attempts": 0, "expired": 1,
                                       "ambiguous": 0}
    assert store.count() == 1


def test_listing_filters_by_reason_and_application(store, redis_client):
    add(store, redis_client, 1, "permanent", now=1000.0, application="APP-1")
    add(store, redis_client, 2, "permanent", now=1001.0, application="APP-2")
    add(store, redis_client, 3, "expired", now=1002.0, application="APP-2")
    assert [e["job"]["job_id"] for e in store.iter_newest(application="APP-2")] == [
        "job-3", "job-2"]
    assert [e["job"]["job_id"] for e in store.iter_newest(reason="permanent",
                                                          application="APP-2")] == ["job-2"]
    entry = store.get("job-1")
    assert entry["last_error"] == "boom" and entry["reason"] == "permanent"
