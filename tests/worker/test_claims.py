"""The claim store against a real Redis: claims, fencing, and final states that stay final."""

from __future__ import annotations

import pytest

from producers.job import Job
from producers.keys import Keys
from producers.outcomes import Attempt, OutcomeStore, Status
from producers.scripts import execute
from worker.store.claims import ClaimStore


@pytest.fixture
def store(redis_client, key_prefix) -> ClaimStore:
    return ClaimStore(redis_client, Keys(key_prefix), ttl_s=600)


@pytest.fixture
def outcomes(redis_client, key_prefix) -> OutcomeStore:
    return OutcomeStore(redis_client, Keys(key_prefix))


def new_job(attempt: int = 0) -> Job:
    return Job(job_id="job-1", request={"segment": {"application": "APP"}}, enqueued_at=100.0,
               expires_at=10_000.0, attempt=attempt)


def record(store, redis_client, status: Status, number: int, **fields) -> None:
    pipe = redis_client.pipeline()
    store.record(pipe, new_job(), Attempt(number, 100.0, 5.0, "x"), status, **fields)
    execute(pipe)


def test_a_claim_is_exclusive_until_its_lease_runs_out(store):
    assert store.claim(new_job(), owner="a", lease_s=10, now=100.0).result == "claimed"
    assert store.claim(new_job(), owner="b", lease_s=10, now=105.0).result == "leased"
    taken = store.claim(new_job(), owner="b", lease_s=10, now=111.0)
    assert (taken.result, taken.detail, taken.attempts) == ("claimed", "abandoned", 1)


def test_the_same_delivery_re_running_its_claim_keeps_it(store):
    store.claim(new_job(), owner="a", lease_s=10, now=100.0)
    assert store.claim(new_job(), owner="a", lease_s=10, now=101.0).result == "claimed"


def test_an_old_copy_is_stale_once_the_attempt_count_moved_on(store, redis_client):
    store.claim(new_job(), owner="a", lease_s=10, now=100.0)
    record(store, redis_client, Status.RETRYING, 1)
    assert store.claim(new_job(attempt=0), owner="b", lease_s=10, now=101.0).result == "stale"
    assert store.claim(new_job(attempt=1), owner="b", lease_s=10, now=101.0).result == "claimed"


def test_a_late_record_never_undoes_a_final_status_but_keeps_its_attempt(store, redis_client,
                                                                        outcomes):
    store.claim(new_job(), owner="a", lease_s=10, now=100.0)
    record(store, redis_client, Status.SUCCEEDED, 1, message_code="M-1")
    record(store, redis_client, Status.RETRYING, 2)  # a worker that outlived its lease

    outcome = outcomes.read("job-1")
    assert (outcome["status"], outcome["message_code"]) == ("succeeded", "M-1")
    assert [a["number"] for a in outcome["attempts"]] == [1, 2]
    assert store.claim(new_job(attempt=2), owner="c", lease_s=10, now=200.0).result == "final"


def test_a_re_sent_record_does_not_log_its_attempt_twice(store, redis_client, outcomes):
    store.claim(new_job(), owner="a", lease_s=10, now=100.0)
    record(store, redis_client, Status.RETRYING, 1)
    record(store, redis_client, Status.RETRYING, 1)
    assert len(outcomes.read("job-1")["attempts"]) == 1
