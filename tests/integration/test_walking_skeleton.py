"""Enqueue → Redis → real Celery worker → emulator over HTTP → outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from producers import Producer, ValidationError
from producers.keys import Keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.integration


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def test_segment_and_transactional_requests_are_each_posted_once_and_succeed(
    producer: Producer, start_worker, emulator_client, api_token
):
    start_worker()
    requests = {name: example(name) for name in ("segment", "transactional")}
    job_ids = {name: producer.enqueue(body) for name, body in requests.items()}

    outcomes = {name: producer.wait(job_id, timeout=30) for name, job_id in job_ids.items()}

    received = emulator_client.requests()
    assert len(received) == 2
    bodies = [r["body"] for r in received]
    for name, body in requests.items():
        assert bodies.count(body) == 1, f"{name} body not received exactly once"
    for record in received:
        assert record["token_ok"] is True  # the emulator checked `Token <our token>`
        assert record["headers"]["content-type"] == "application/json"
    for name, outcome in outcomes.items():
        assert outcome["status"] == "succeeded", outcome
        assert outcome["job_id"] == job_ids[name]
        [attempt] = outcome["attempts"]
        assert attempt["http_status"] == 200
        assert attempt["message_code"]
        assert outcome["message_code"] == attempt["message_code"]


def test_an_invalid_request_names_the_field_and_queues_nothing(producer, redis_client, settings):
    queue_key = Keys(settings.key_prefix).queue(settings.queue)
    before = redis_client.llen(queue_key)
    bad = example("segment")
    del bad["segment"]["schedule"]

    with pytest.raises(ValidationError) as caught:
        producer.enqueue(bad)

    assert "segment.schedule" in str(caught.value)
    assert redis_client.llen(queue_key) == before
    assert list(redis_client.scan_iter(f"{settings.key_prefix}*")) == []


def test_the_api_token_is_nowhere_in_redis_or_the_worker_log(
    producer: Producer, start_worker, redis_client, api_token
):
    worker = start_worker()
    job_id = producer.enqueue(example("transactional"))
    producer.wait(job_id, timeout=30)

    secret = api_token.encode()
    keys = list(redis_client.scan_iter(f"{producer.settings.key_prefix}*"))
    assert keys, "the run wrote nothing to Redis?"
    for key in keys:
        assert secret not in key
        assert not any(secret in value for value in redis_values(redis_client, key)), key
    assert api_token not in worker.log_text()
    assert "succeeded" in worker.log_text()


def redis_values(client, key: bytes) -> list[bytes]:
    """Every stored value of `key`, read by type (DUMP may compress them)."""
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "hash":
        return [b"%s=%s" % pair for pair in client.hgetall(key).items()]
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return client.zrange(key, 0, -1)
    raise AssertionError(f"unexpected type {kind} for {key!r}")
