"""`deliver` against a real Redis and the emulator, without Celery: the claim and the
limiter asked in one pipeline, and what happens when Redis has forgotten the scripts."""

from __future__ import annotations

import pytest

from producers.job import Job
from tests.integration.helpers import example
from worker.delivery import deliver
from worker.runtime import Runtime


@pytest.fixture
def rt(settings):
    runtime = Runtime.build(settings)
    yield runtime
    runtime.close()


def new_job() -> dict:
    return Job.new(example(), max_age_s=60).to_dict()


def test_a_send_with_the_circuit_known_closed_is_recorded(rt, producer, emulator_client):
    assert deliver(new_job(), rt).action == "sent"  # the first send checks the circuit
    assert rt.stores.circuit.known_closed()
    payload = new_job()
    done = deliver(payload, rt)
    assert (done.action, done.status) == ("sent", "succeeded")
    record = producer.outcome(payload["job_id"])
    assert record["status"] == "succeeded" and record["attempt_count"] == 1
    assert len(emulator_client.requests()) == 2


def test_scripts_flushed_from_redis_are_loaded_again_and_the_job_sent_once(
        rt, producer, emulator_client, redis_client):
    deliver(new_job(), rt)
    assert rt.stores.circuit.known_closed()
    redis_client.script_flush()  # what a Redis restart does to the script cache
    payload = new_job()
    assert deliver(payload, rt).action == "sent"
    assert producer.outcome(payload["job_id"])["attempt_count"] == 1
    assert len(emulator_client.requests()) == 2


def test_an_expired_job_is_dead_lettered_without_taking_a_limiter_slot(
        rt, producer, emulator_client, redis_client):
    deliver(new_job(), rt)
    token_state = rt.stores.limiter._token_key  # the GCRA's next-slot time moves with each slot
    before = redis_client.hget(token_state, "tat")
    expired = Job.new(example(), max_age_s=60, now=0.0).to_dict()
    assert deliver(expired, rt).status == "dead"
    assert producer.outcome(expired["job_id"])["dead_reason"] == "expired"
    assert redis_client.hget(token_state, "tat") == before
    assert len(emulator_client.requests()) == 1
