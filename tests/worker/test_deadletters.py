"""The dead-letter store against a real Redis: bounds, per-reason counts, filters, replay."""

from __future__ import annotations

import time

import pytest

from producers import Producer
from producers.outcomes import DeadReason
from producers.validation import request_json
from tests.integration.helpers import example, handed_out
from worker.store import Stores


@pytest.fixture
def small(settings, redis_client) -> Stores:
    return Stores.build(settings.replace(dead_max=3, dead_ttl_s=100.0), redis_client)


def bury(stores: Stores, producer: Producer, reason: DeadReason, now: float,
         application: str = "APP-1") -> str:
    job_id = producer.enqueue(example(application=application))
    [item] = [i for i in handed_out(stores) if i.job_id == job_id]
    claim = stores.claims.claim(item, owner="w", lease_s=10)
    stores.claims.bury(claim.job, "w", None, reason, "boom", now)
    return job_id


def test_the_store_keeps_the_newest_entries_within_its_count_and_age(small, producer):
    t = time.time()
    ids = [bury(small, producer, DeadReason.PERMANENT, t + n) for n in range(5)]
    assert [e["job"]["job_id"] for e in small.dead.iter_newest()] == ids[:1:-1]
    last = bury(small, producer, DeadReason.EXPIRED, t + 200)  # 100 s on: the rest are too old
    assert [e["job"]["job_id"] for e in small.dead.iter_newest()] == [last]
    assert small.dead.count_by_reason() == {"permanent": 0, "max_attempts": 0, "expired": 1,
                                            "ambiguous": 0}


def test_counts_by_reason_follow_adds_trims_replays_and_purges(small, producer):
    t = time.time()
    first = bury(small, producer, DeadReason.PERMANENT, t)
    second = bury(small, producer, DeadReason.MAX_ATTEMPTS, t + 1)
    assert small.dead.replay(small.dead.get(second))  # replayed: no longer counted
    assert small.dead.count_by_reason()["max_attempts"] == 0
    assert small.dead.purge([small.dead.get(first)]) == 1
    assert small.dead.count_by_reason() == dict.fromkeys(
        ("permanent", "max_attempts", "expired", "ambiguous"), 0)
    assert small.dead.count() == 0


def test_listing_filters_by_reason_and_application(small, producer):
    t = time.time()
    bury(small, producer, DeadReason.PERMANENT, t, application="APP-1")
    two = bury(small, producer, DeadReason.PERMANENT, t + 1, application="APP-2")
    three = bury(small, producer, DeadReason.EXPIRED, t + 2, application="APP-2")
    assert [e["job"]["job_id"] for e in small.dead.iter_newest(application="APP-2")] == [
        three, two]
    assert [e["job"]["job_id"] for e in small.dead.iter_newest(
        reason="permanent", application="APP-2")] == [two]
    entry = small.dead.get(two)
    assert entry["last_error"] == "boom" and entry["reason"] == "permanent"


def test_a_replay_sends_the_request_byte_for_byte_even_after_its_outcome_expired(
        small, producer, redis_client):
    # M6: big integers, empty lists and long floats come back exactly as they went in;
    # M5: a replay of a dead letter whose outcome expired still sends the job.
    request = example()
    request["transactional"]["payload"]["custom_data"] = {
        "big": 12345678901234567, "empty": [], "ratio": 0.1234567890123456789, "no": {}}
    job_id = producer.enqueue(request)
    [item] = handed_out(small)
    claim = small.claims.claim(item, owner="w", lease_s=10)
    small.claims.bury(claim.job, "w", None, DeadReason.PERMANENT, "refused", time.time())
    redis_client.delete(small.keys.outcome(job_id))  # as NOTIFY_OUTCOME_TTL would
    assert small.dead.replay(small.dead.get(job_id))
    [again] = handed_out(small)
    replayed = small.claims.claim(again, owner="w", lease_s=10)
    assert replayed.body == request_json(request).encode()
    assert replayed.job.priority == claim.job.priority
    assert producer.outcome(job_id)["status"] == "sending"
