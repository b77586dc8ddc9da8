"""Delivery semantics through real workers and the emulator: one test per failure class.

Each test drives a fault through the emulator and checks the job's final status, the
number of POSTs the endpoint saw and the attempt log.
"""

from __future__ import annotations

import pytest

from tests.integration.helpers import example

pytestmark = pytest.mark.integration


def run_one(producer, start_worker, settings, *faults, emulator_client, timeout=30, **changes):
    if faults:
        emulator_client.script(*faults)
    start_worker(settings_override=settings.replace(**changes) if changes else None)
    job_id = producer.enqueue(example())
    return job_id, producer.wait(job_id, timeout=timeout)


def classes(outcome) -> list[str]:
    return [attempt["outcome"] for attempt in outcome["attempts"]]


def test_success_is_recorded_with_status_and_message_code(
        producer, start_worker, settings, emulator_client):
    _, outcome = run_one(producer, start_worker, settings, emulator_client=emulator_client)
    assert outcome["status"] == "succeeded"
    assert classes(outcome) == ["success"]
    assert outcome["attempts"][0]["duration_ms"] > 0
    assert len(emulator_client.requests()) == 1


def test_a_permanent_failure_is_dead_lettered_at_once_without_retry(
        producer, start_worker, settings, emulator_client, redis_client):
    job_id, outcome = run_one(
        producer, start_worker, settings,
        {"kind": "respond", "status": 400, "body": {"code": 3, "message": "bad platforms"}},
        emulator_client=emulator_client)
    assert outcome["status"] == "dead"
    assert outcome["dead_reason"] == "permanent"
    [attempt] = outcome["attempts"]
    assert (attempt["http_status"], attempt["grpc_code"], attempt["error"]) == (
        400, 3, "bad platforms")
    assert len(emulator_client.requests()) == 1


def test_transient_failures_are_retried_until_success(
        producer, start_worker, settings, emulator_client):
    _, outcome = run_one(producer, start_worker, settings,
                         {"kind": "respond", "status": 503, "count": 2},
                         emulator_client=emulator_client)
    assert outcome["status"] == "succeeded"
    assert classes(outcome) == ["transient", "transient", "success"]
    assert [a["http_status"] for a in outcome["attempts"]] == [503, 503, 200]
    assert all(a["retry_in_s"] is not None for a in outcome["attempts"][:2])
    assert len(emulator_client.requests()) == 3


def test_retries_stop_at_max_attempts_and_the_job_is_dead_lettered(
        producer, start_worker, settings, emulator_client):
    _, outcome = run_one(producer, start_worker, settings, {"kind": "respond", "status": 500},
                         emulator_client=emulator_client, max_attempts=3)
    assert outcome["status"] == "dead"
    assert outcome["dead_reason"] == "max_attempts"
    assert classes(outcome) == ["transient"] * 3
    assert len(emulator_client.requests()) == 3


def test_a_429_is_not_retried_before_retry_after(
        producer, start_worker, settings, emulator_client):
    _, outcome = run_one(producer, start_worker, settings,
                         {"kind": "respond", "status": 429, "count": 1,
                          "headers": {"Retry-After": "2"}},
                         emulator_client=emulator_client, backoff_max_s=5.0)
    # (Retry-After is clamped to NOTIFY_BACKOFF_MAX, here above it)
    assert outcome["status"] == "succeeded"
    assert classes(outcome) == ["throttled", "success"]
    first, second = emulator_client.requests()
    assert second["time"] - first["time"] >= 2.0


def test_a_connect_error_is_transient_and_flagged_as_not_sent(
        producer, start_worker, settings, emulator_client):
    from notify_relay.processes import free_port

    _, outcome = run_one(producer, start_worker, settings, emulator_client=emulator_client,
                         base_url=f"http://127.0.0.1:{free_port()}", max_attempts=2)
    assert outcome["status"] == "dead"
    assert outcome["dead_reason"] == "max_attempts"
    assert classes(outcome) == ["transient", "transient"]
    assert not any(a["ambiguous"] for a in outcome["attempts"])
    assert all(a["http_status"] is None for a in outcome["attempts"])


@pytest.mark.parametrize("fault", [
    {"kind": "hang", "hang_s": 4, "count": 1},   # read timeout (2 s in tests)
    {"kind": "close", "count": 1},                # connection dropped after the body was sent
], ids=["read-timeout", "reset"])
def test_an_unanswered_send_is_flagged_ambiguous_and_retried(
        producer, start_worker, settings, emulator_client, fault):
    _, outcome = run_one(producer, start_worker, settings, fault,
                         emulator_client=emulator_client)
    assert outcome["status"] == "succeeded"
    assert classes(outcome) == ["ambiguous", "success"]
    assert outcome["attempts"][0]["ambiguous"] is True
    assert len(emulator_client.requests()) == 2


def test_ambiguous_sends_are_dead_lettered_when_retrying_them_is_off(
        producer, start_worker, settings, emulator_client):
    _, outcome = run_one(producer, start_worker, settings, {"kind": "close", "count": 1},
                         emulator_client=emulator_client, retry_ambiguous=False)
    assert (outcome["status"], outcome["dead_reason"]) == ("dead", "ambiguous")
    assert len(emulator_client.requests()) == 1


def test_a_garbage_success_body_counts_as_sent(
        producer, start_worker, settings, emulator_client):
    _, outcome = run_one(producer, start_worker, settings, {"kind": "garbage", "count": 1},
                         emulator_client=emulator_client)
    assert outcome["status"] == "succeeded"
    assert outcome["attempts"][0]["message_code"] is None
    assert "unreadable" in outcome["attempts"][0]["error"]
    assert len(emulator_client.requests()) == 1


def test_a_job_that_expires_while_waiting_for_a_retry_is_never_posted_again(
        producer, start_worker, settings, emulator_client):
    emulator_client.script({"kind": "respond", "status": 503})
    start_worker(settings_override=settings.replace(backoff_base_s=30, backoff_max_s=30))
    job_id = producer.enqueue(example(), expires_in=2.0)
    outcome = producer.wait(job_id, timeout=30)
    assert (outcome["status"], outcome["dead_reason"]) == ("dead", "expired")
    posts = emulator_client.requests()
    assert posts and all(p["time"] < outcome["expires_at"] for p in posts)
    assert len(outcome["attempts"]) == len(posts)


def test_401s_open_the_circuit_and_no_job_is_dead_lettered(
        producer, start_worker, settings, emulator_client, redis_client):
    emulator_client.script({"kind": "respond", "status": 401, "duration_s": 4})
    start_worker()
    job_ids = producer.enqueue_many([example() for _ in range(200)])
    outcomes = [producer.wait(job_id, timeout=60) for job_id in job_ids]
    assert all(o["status"] == "succeeded" for o in outcomes)
    refused = [p for p in emulator_client.requests() if p["status"] == 401]
    # The circuit stops the backlog: only the sends already in flight (at most one per
    # sender thread) and one probe a second hit the 401.
    assert len(refused) < 100
    assert redis_client.exists(f"{settings.key_prefix}circuit") == 0
