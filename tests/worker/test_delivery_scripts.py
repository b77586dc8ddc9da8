"""`deliver` against a real Redis and the emulator, without Celery: one handed-out job,
and what happens when Redis has forgotten the scripts."""

from __future__ import annotations

import time

import pytest

from producers.validation import REQUEST_LIMIT_BYTES, request_json
from tests.integration.helpers import example, handed_out
from worker import delivery
from worker.classify import SendResult, Verdict
from worker.delivery import Action, deliver
from worker.runtime import Runtime


@pytest.fixture
def rt(settings):
    runtime = Runtime.build(settings)
    yield runtime
    runtime.close()


def test_a_handed_out_job_is_sent_once_and_recorded(rt, producer, emulator_client):
    job_id = producer.enqueue(example())
    [item] = handed_out(rt.stores)
    done = deliver(item, rt)
    assert (done.action, done.job.job_id) == (Action.SENT, job_id)
    record = producer.outcome(job_id)
    assert record["status"] == "succeeded" and record["attempt_count"] == 1
    assert deliver(item, rt).action is Action.SKIPPED  # a redelivered copy: no second POST
    assert len(emulator_client.requests()) == 1


def test_scripts_flushed_from_redis_are_loaded_again_and_the_job_sent_once(
        rt, producer, emulator_client, redis_client):
    job_id = producer.enqueue(example())
    redis_client.script_flush()  # what a Redis restart does to the script cache
    [item] = handed_out(rt.stores)
    redis_client.script_flush()
    assert deliver(item, rt).action is Action.SENT
    assert producer.outcome(job_id)["attempt_count"] == 1
    assert len(emulator_client.requests()) == 1


def test_an_expired_job_is_dead_lettered_without_a_post_or_a_slot(
        rt, producer, emulator_client, redis_client):
    job_id = producer.enqueue(example(), expires_in=0.01)
    deadline = time.monotonic() + 5
    while producer.outcome(job_id)["expires_at"] > time.time() and time.monotonic() < deadline:
        time.sleep(0.01)
    token_state = rt.stores.budget.token_key
    [item] = handed_out(rt.stores)
    assert item.slot_ms == -1 and redis_client.hget(token_state, "tat") is None
    assert deliver(item, rt).action is Action.DEAD
    assert producer.outcome(job_id)["dead_reason"] == "expired"
    assert emulator_client.requests() == []


def test_a_dead_letter_is_written_whole_after_redis_forgot_the_scripts(
        rt, producer, emulator_client, redis_client):
    # Once a MULTI with EVALSHA inside: a NOSCRIPT there failed the dead-letter insert while
    # the rest of the transaction applied. Now one script, re-run whole on NOSCRIPT.
    emulator_client.script({"kind": "respond", "status": 400, "count": 1})
    job_id = producer.enqueue(example())
    [item] = handed_out(rt.stores)
    redis_client.script_flush()
    assert deliver(item, rt).action is Action.DEAD
    assert producer.outcome(job_id)["dead_reason"] == "permanent"
    assert rt.stores.dead.get(job_id)["reason"] == "permanent"
    assert rt.stores.dead.count_by_reason()["permanent"] == 1


def test_a_stored_body_over_the_api_limit_is_dead_lettered_on_consume_without_a_post(
        rt, producer, emulator_client, redis_client):
    """L5: enqueue refuses a request of 10 MB or more as POSTed, but a record can hold
    one the enqueue check never saw (an older version's, a hand-written one): the worker
    checks the size again before it sends, and refuses it for good."""
    job_id = producer.enqueue(example())
    oversize = example()
    body = oversize["transactional"]["payload"]["content"]["localized_content"]["en"]["ios"]
    body["body"] = "x" * REQUEST_LIMIT_BYTES
    redis_client.hset(rt.stores.keys.outcome(job_id), "body", request_json(oversize))
    [item] = handed_out(rt.stores)
    done = deliver(item, rt)
    assert (done.action, done.detail) == (Action.DEAD, "permanent")
    outcome = producer.outcome(job_id)
    assert (outcome["dead_reason"], outcome["attempts"]) == ("permanent", [])
    assert "over the API's limit" in rt.stores.dead.get(job_id)["last_error"]
    assert emulator_client.requests() == []


def test_an_error_reading_the_answer_after_the_post_is_an_ambiguous_attempt_not_a_death(
        rt, producer, emulator_client, monkeypatch):
    """M8: once the POST has returned the endpoint may have sent the message, so a bug in
    what follows must be logged as an ambiguous attempt (and retried, as ambiguous sends
    are by default), never dead `permanent` with no attempt. `classify` itself cannot be
    made to raise by any answer (tests/worker/test_classify.py), so our own function is
    replaced by one that does, after a real POST to the emulator."""
    def classify_with_a_bug(result: SendResult, now: float | None = None) -> Verdict:
        raise RuntimeError("a bug in reading the answer")

    monkeypatch.setattr(delivery, "classify", classify_with_a_bug)
    job_id = producer.enqueue(example())
    [item] = handed_out(rt.stores)
    done = deliver(item, rt)
    assert done.action is Action.RETRY
    outcome = producer.outcome(job_id)
    assert outcome["status"] == "retrying" and "dead_reason" not in outcome
    [attempt] = outcome["attempts"]
    assert (attempt["outcome"], attempt["ambiguous"], attempt["http_status"]) == (
        "ambiguous", True, 200)
    assert attempt["error"] == "internal error reading the answer: RuntimeError"
    assert rt.stores.dead.get(job_id) is None
    assert len(emulator_client.requests()) == 1  # the POST did go out
