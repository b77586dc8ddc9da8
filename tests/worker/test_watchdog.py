"""The watchdog against a real Redis: a job whose message was lost always comes back."""

from __future__ import annotations

import time

from producers.outcomes import Attempt
from tests.integration.helpers import example, handed_out
from worker.store.claims import ClaimResult


def test_a_job_whose_message_vanished_waits_again_and_its_old_copy_is_stale(
        stores, producer, settings):
    job_id = producer.enqueue(example())
    [lost] = handed_out(stores)  # taken off the queue by nobody: kombu's BRPOP gap
    assert stores.watchdog.check(time.time()) == (0, 0)  # not overdue yet
    later = time.time() + settings.watchdog_grace_s + 1
    assert stores.watchdog.check(later) == (1, 1)
    [again] = handed_out(stores)
    assert again.job_id == job_id and again.dispatch > lost.dispatch
    assert stores.claims.claim(lost, owner="w", lease_s=10).result is ClaimResult.STALE
    assert stores.claims.claim(again, owner="w", lease_s=10).result is ClaimResult.CLAIMED


def test_a_job_being_sent_is_looked_at_again_after_its_lease(stores, producer, settings):
    producer.enqueue(example())
    [item] = handed_out(stores)
    t = time.time()
    stores.claims.claim(item, owner="w", lease_s=60, now=t)
    # due (its slot + grace) while its lease still runs: looked at again at the lease's end
    assert stores.watchdog.check(t + settings.watchdog_grace_s + 1) == (1, 0)
    assert stores.watchdog.check(t + 59) == (0, 0)
    assert stores.watchdog.check(t + 61) == (1, 1)  # its holder is gone: taken over


def test_a_holder_that_died_with_no_message_left_is_taken_over_as_worker_lost(
        stores, producer, settings):
    job_id = producer.enqueue(example())
    [item] = handed_out(stores)
    t = time.time()
    stores.claims.claim(item, owner="w", lease_s=5, now=t)
    assert stores.watchdog.check(t + 5 + settings.watchdog_grace_s + 1) == (1, 1)
    outcome = producer.outcome(job_id)
    assert outcome["status"] == "retrying"
    [lost] = outcome["attempts"]
    assert lost["ambiguous"] and "worker lost" in lost["error"]
    [again] = handed_out(stores)
    claim = stores.claims.claim(again, owner="v", lease_s=5)
    assert (claim.result, claim.job.attempt, claim.job.attempts_spent) == (
        ClaimResult.CLAIMED, 1, 1)


def test_final_jobs_are_forgotten(stores, producer, settings):
    producer.enqueue(example())
    [item] = handed_out(stores)
    claim = stores.claims.claim(item, owner="w", lease_s=5)
    stores.claims.succeed(claim.job, "w", Attempt(1, time.time(), 3.0, "success", 200))
    assert stores.watchdog.size() == 0
    assert stores.watchdog.check(time.time() + 10 * settings.watchdog_grace_s) == (0, 0)
