"""Enqueue against a real Redis: a job waits in its priority's and application's list, with
its record, under one script; idempotency keys; refused input queues nothing."""

from __future__ import annotations

import math

import pytest

from producers import Producer, ValidationError
from producers.validation import request_json
from tests.integration.helpers import example


def waiting(redis_client, producer: Producer, priority: str, app: str) -> list[str]:
    key = producer._enqueuer.keys.waiting(priority, app)
    return [v.decode() for v in redis_client.lrange(key, 0, -1)]


def nothing_waits(redis_client, key_prefix: str) -> bool:
    return not any(redis_client.scan_iter(f"{key_prefix}wait:*"))


def test_a_job_waits_in_its_priority_and_application_list_with_its_record(
        producer, redis_client):
    urgent = producer.enqueue(example(application="APP-1"), priority="urgent")
    normal = producer.enqueue_many([example(application="APP-1")] * 2)
    assert waiting(redis_client, producer, "urgent", "APP-1") == [urgent]
    assert waiting(redis_client, producer, "normal", "APP-1") == normal
    record = producer.outcome(urgent)
    assert (record["status"], record["priority"], record["application"]) == (
        "queued", "urgent", "APP-1")
    stored = redis_client.hget(producer._enqueuer.keys.outcome(urgent), "body")
    assert stored == request_json(example(application="APP-1")).encode()  # as it is POSTed


def test_an_unknown_priority_names_the_accepted_ones_and_queues_nothing(
        producer, redis_client, key_prefix):
    with pytest.raises(ValueError, match="'urgent', 'normal', 'bulk'"):
        producer.enqueue(example(), priority="asap")
    with pytest.raises(ValueError, match="priority"):
        producer.enqueue_many([example()], priority="high")
    assert nothing_waits(redis_client, key_prefix)


@pytest.mark.parametrize("expires_in", [0, -1, math.nan, math.inf, 10 ** 9])
def test_expires_in_must_be_finite_positive_and_within_the_outcome_ttl(
        producer, redis_client, key_prefix, expires_in):
    with pytest.raises(ValueError, match="expires_in"):
        producer.enqueue(example(), expires_in=expires_in)
    assert nothing_waits(redis_client, key_prefix)


def test_one_invalid_request_queues_none_and_names_its_index(producer, redis_client,
                                                             key_prefix):
    bad = example()
    del bad["transactional"]["platforms"]
    with pytest.raises(ValidationError) as caught:
        producer.enqueue_many([example(), bad])
    assert "1.transactional.platforms" in str(caught.value)
    assert nothing_waits(redis_client, key_prefix)


def test_a_key_repeated_in_one_call_is_queued_once(producer, redis_client):
    ids = producer.enqueue_many([example()] * 3, idempotency_keys=["k", "k", None])
    assert ids[0] == ids[1] != ids[2]
    assert len(waiting(redis_client, producer, "normal", "ABCDE-12345")) == 2


def test_a_key_already_taken_gives_the_first_job_and_queues_nothing_for_it(
        producer, redis_client):
    first = producer.enqueue(example(), idempotency_key="order-77")
    again = producer.enqueue_many([example(), example()], idempotency_keys=["order-77", "x"])
    assert again[0] == first and again[1] != first
    assert producer.enqueue(example(), idempotency_key="order-77") == first
    assert len(waiting(redis_client, producer, "normal", "ABCDE-12345")) == 2


def test_a_large_enqueue_many_keeps_input_order_across_script_calls(producer, redis_client):
    ids = producer.enqueue_many([example()] * 600)
    assert waiting(redis_client, producer, "normal", "ABCDE-12345") == ids
