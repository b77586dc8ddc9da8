"""The claim store against a real Redis: claims, fencing, late results, final records."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from producers import Producer
from producers.job import Job
from producers.outcomes import Attempt, DeadReason, Status
from producers.validation import request_json
from tests.integration.helpers import example, handed_out
from worker.store.claims import ClaimResult, Item, RecordResult

LEASE_S = 10.0


def sent(number: int) -> Attempt:
    return Attempt(number, 100.0, 5.0, "success", 200, message_code=f"M-{number}")


def failed(number: int) -> Attempt:
    return Attempt(number, 100.0, 5.0, "transient", 503, error="unavailable")


@pytest.fixture
def item(producer: Producer, stores) -> Item:
    producer.enqueue(example())
    [one] = handed_out(stores)
    return one


def test_a_claim_hands_over_the_job_as_stored_and_is_exclusive_until_its_lease_ends(
        stores, item):
    t = time.time()
    first = stores.claims.claim(item, owner="a", lease_s=LEASE_S, now=t)
    assert first.result is ClaimResult.CLAIMED
    assert first.body == request_json(example()).encode()  # the bytes that will be POSTed
    assert first.job.request == example()
    assert stores.claims.claim(item, owner="b", lease_s=LEASE_S, now=t + 5).result is (
        ClaimResult.LEASED)
    taken = stores.claims.claim(item, owner="b", lease_s=LEASE_S, now=t + LEASE_S + 1)
    assert (taken.result, taken.abandoned) == (ClaimResult.CLAIMED, True)
    assert (taken.job.attempt, taken.job.attempts_spent) == (1, 1)  # the lost send counts


def test_the_same_delivery_re_running_its_claim_keeps_it(stores, item):
    t = time.time()
    stores.claims.claim(item, owner="a", lease_s=LEASE_S, now=t)
    assert stores.claims.claim(item, owner="a", lease_s=LEASE_S, now=t + 1).result is (
        ClaimResult.CLAIMED)


def test_a_copy_of_an_earlier_hand_out_is_stale(stores, item):
    claim = stores.claims.claim(item, owner="a", lease_s=LEASE_S)
    stores.claims.release(claim.job, "a")  # back to wait: the next hand-out is a new one
    [again] = handed_out(stores)
    assert again.dispatch > item.dispatch
    assert stores.claims.claim(item, owner="b", lease_s=LEASE_S).result is ClaimResult.STALE
    assert stores.claims.claim(again, owner="b", lease_s=LEASE_S).result is ClaimResult.CLAIMED


def test_a_late_result_never_undoes_the_new_holders_and_is_logged_as_late(
        stores, item, producer):
    t = time.time()
    a = stores.claims.claim(item, owner="a", lease_s=LEASE_S, now=t)
    b = stores.claims.claim(item, owner="b", lease_s=LEASE_S, now=t + LEASE_S + 1)
    # A outlived its lease: its failure must not park the job while B sends (H2) ...
    assert stores.claims.retry(a.job, "a", failed(1), t + 60, spend=True) is RecordResult.LATE
    assert producer.outcome(item.job_id)["status"] == Status.SENDING
    assert stores.redis.zcard(stores.keys.retries) == 0
    assert stores.claims.succeed(b.job, "b", sent(2)) is RecordResult.DONE
    # ... nor its late success or death touch B's final record.
    assert stores.claims.bury(a.job, "a", sent(1), DeadReason.PERMANENT, "x",
                              t) is RecordResult.LATE
    outcome = producer.outcome(item.job_id)
    assert (outcome["status"], outcome["message_code"]) == ("succeeded", "M-2")
    late = [a for a in outcome["attempts"] if a["late"]]
    assert [(x["number"], x["outcome"]) for x in late] == [(1, "transient"), (1, "success")]
    assert stores.dead.count() == 0


def test_a_re_sent_record_logs_its_attempt_once(stores, item, producer):
    claim = stores.claims.claim(item, owner="a", lease_s=LEASE_S)
    stores.claims.retry(claim.job, "a", failed(1), time.time() + 60, spend=True)
    stores.claims.retry(claim.job, "a", failed(1), time.time() + 60, spend=True)  # re-sent
    assert len(producer.outcome(item.job_id)["attempts"]) == 1


def test_a_final_record_is_one_compact_string_that_still_reads_whole(stores, item, producer):
    claim = stores.claims.claim(item, owner="a", lease_s=LEASE_S)
    stores.claims.succeed(claim.job, "a", sent(1))
    raw = stores.redis.get(stores.keys.outcome(item.job_id))
    head, log = raw.split(b"\n")
    assert json.loads(head)[1] == "succeeded" and len(json.loads(log)) == 1
    assert 0 < stores.redis.pttl(stores.keys.outcome(item.job_id)) <= (
        stores.settings.outcome_ttl_s * 1000)
    outcome = producer.outcome(item.job_id)
    assert outcome["attempts"] == [vars(sent(1))]
    assert (outcome["priority"], outcome["attempt_count"]) == ("normal", 1)
    again = stores.claims.claim(item, owner="b", lease_s=LEASE_S)
    assert (again.result, again.detail) == (ClaimResult.FINAL, "succeeded")


def test_a_retry_is_parked_and_comes_back_to_the_head_of_its_list(stores, producer):
    first, second = producer.enqueue_many([example(), example()], priority="bulk")
    [one] = handed_out(stores)[:1]
    claim = stores.claims.claim(one, owner="a", lease_s=LEASE_S)
    assert stores.claims.retry(claim.job, "a", failed(1), time.time() - 1, spend=True) is (
        RecordResult.DONE)
    assert stores.park.move_due() == 1
    waiting = stores.redis.lrange(stores.keys.waiting("bulk", "ABCDE-12345"), 0, -1)
    assert [w.decode() for w in waiting][0] == first  # ahead of newer work, same priority
    assert producer.outcome(first)["status"] == Status.RETRYING


def test_a_released_claim_waits_again_with_no_attempt_spent(stores, item, producer):
    claim = stores.claims.claim(item, owner="a", lease_s=LEASE_S)
    assert stores.claims.release(claim.job, "a") is RecordResult.DONE
    outcome = producer.outcome(item.job_id)
    assert (outcome["status"], outcome["attempts"]) == ("queued", [])
    assert [i.job_id for i in handed_out(stores)] == [item.job_id]


def test_a_copy_far_past_its_slot_takes_a_fresh_one(stores, producer):
    producer.enqueue_many([example()] * 3)
    items = handed_out(stores)
    late_item = Item(items[0].job_id, items[0].dispatch, time.time() * 1000 - 5_000)
    claim = stores.claims.claim(late_item, owner="a", lease_s=LEASE_S)
    # the budget (1000/s in the tests' settings) has its next slot after the other two
    assert claim.result is ClaimResult.CLAIMED and claim.wait_s > 0


def redis_state(stores) -> dict[bytes, bytes]:
    """Every key under the test's prefix with its serialised value (type, content)."""
    return {key: stores.redis.dump(key) for key in stores.redis.scan_iter(
        f"{stores.keys.prefix}*")}


def test_a_claim_without_a_record_answers_unknown_and_writes_no_key(stores, item):
    """L1: a message for a job whose record is gone (expired, or never enqueued here) must
    not leave a record behind, least of all one without a TTL; nor may a result for it."""
    before = redis_state(stores)
    ghost = Item("never-enqueued", item.dispatch, time.time() * 1000 - 5_000)  # a late slot
    claim = stores.claims.claim(ghost, owner="a", lease_s=LEASE_S)
    assert (claim.result, claim.job) == (ClaimResult.UNKNOWN, None)
    job = Job.new(example(), max_age_s=60)
    job = replace(job, job_id=ghost.job_id)
    assert stores.claims.succeed(job, "a", sent(1)) is RecordResult.LATE
    assert stores.claims.retry(job, "a", failed(1), time.time() + 60,
                               spend=True) is RecordResult.LATE
    assert stores.claims.bury(job, "a", failed(1), DeadReason.PERMANENT, "x",
                              time.time()) is RecordResult.LATE
    assert stores.claims.release(job, "a") is RecordResult.LATE
    assert not stores.redis.exists(stores.keys.outcome(ghost.job_id))
    assert redis_state(stores) == before  # no other key either, and none changed
