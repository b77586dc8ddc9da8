"""`Events`: each call writes one complete log line, one counter, and alerts only when due.

Metrics go to the real Redis (the test's own key prefix); alerts go to a recorder that
stands in for `worker.sentry.Alerts` (Sentry's own path is in tests/integration).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from notify_relay.processes import wait_until
from producers import Attempt, Job
from producers.keys import Keys
from tests.integration.helpers import example
from worker.classify import Verdict
from worker.events import Events
from worker.failures import FailureClass
from worker.logs import JsonFormatter
from worker.store.metrics import Metrics, read_counters, recent_sends


class RecordedAlerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def dead_letter(self, job: Job, reason: str, error: str | None, **details: Any) -> None:
        self.sent.append(("dead_letter", job.job_id, {"reason": reason, **details}))

    def systemic(self, job: Job, **details: Any) -> None:
        self.sent.append(("systemic", job.job_id, details))


@pytest.fixture
def keys(key_prefix: str) -> Keys:
    return Keys(key_prefix)


@pytest.fixture
def alerts() -> RecordedAlerts:
    return RecordedAlerts()


@pytest.fixture
def events(redis_client: redis.Redis, keys: Keys, alerts: RecordedAlerts) -> Events:
    return Events(metrics=Metrics(redis_client, keys), alerts=alerts)  # type: ignore[arg-type]


@pytest.fixture
def job() -> Job:
    return Job.new(example(), max_age_s=60).next(spend=False)


def attempt_of(verdict: Verdict, number: int = 2) -> Attempt:
    return Attempt(number=number, started_at=1.0, duration_ms=42.5, outcome=verdict.cls.value,
                   http_status=verdict.http_status, grpc_code=verdict.grpc_code,
                   error=verdict.message, message_code=verdict.message_code)


def lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.notify for r in caplog.records if r.name == "notify_relay.delivery"]


def test_a_success_is_one_info_line_with_job_app_attempt_status_http_and_duration(
        events, job, caplog, redis_client, keys):
    verdict = Verdict(FailureClass.SUCCESS, http_status=200, message_code="AB-1")
    caplog.set_level(logging.DEBUG, "notify_relay")

    events.attempt(job, attempt_of(verdict), verdict)
    events.succeeded(job, attempt_of(verdict))

    sent, state = lines(caplog)
    assert sent == {"event": "attempt", "job": job.job_id, "app": "ABCDE-12345",
                    "attempt": 2, "outcome": "success", "http_status": 200,
                    "duration_ms": 42.5}
    assert state == {"event": "state", "job": job.job_id, "app": "ABCDE-12345", "attempt": 2,
                     "status": "succeeded", "http_status": 200, "duration_ms": 42.5,
                     "message_code": "AB-1"}
    assert caplog.records[0].getMessage().startswith(f"attempt job={job.job_id} ")
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.INFO]
    counters = read_counters(redis_client, keys)
    assert (counters["attempts:success"], counters["succeeded"]) == (1, 1)
    assert counters["latency:0.05"] == 1 and counters["latency_sum"] == pytest.approx(0.0425)


def test_a_retry_is_an_info_line_a_counter_and_no_alert(events, job, caplog, alerts,
                                                        redis_client, keys):
    verdict = Verdict(FailureClass.TRANSIENT, http_status=503, grpc_code=14,
                      message="upstream unavailable")
    caplog.set_level(logging.INFO, "notify_relay")

    events.attempt(job, attempt_of(verdict), verdict)
    events.retrying(job, attempt_of(verdict), 0.8)

    assert {r.levelno for r in caplog.records} == {logging.INFO}
    assert lines(caplog)[0]["error"] == "upstream unavailable"
    assert lines(caplog)[1] | {"retry_in_s": 0.8} == lines(caplog)[1]
    assert alerts.sent == []
    assert read_counters(redis_client, keys)["retries:transient"] == 1
    assert recent_sends(redis_client, keys, time.time()) == {"transient": 1}


def test_a_dead_letter_warns_counts_and_alerts_once_with_its_reason(events, job, caplog, alerts,
                                                                   redis_client, keys):
    verdict = Verdict(FailureClass.PERMANENT, http_status=400, grpc_code=3, message="bad")

    events.dead(job, attempt_of(verdict), "permanent", "bad")

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.notify["status"] == "dead" and record.notify["reason"] == "permanent"
    assert alerts.sent == [("dead_letter", job.job_id,
                            {"reason": "permanent", "attempt": 2, "http_status": 400,
                             "grpc_code": 3})]
    assert read_counters(redis_client, keys)["dead:permanent"] == 1


def test_a_systemic_failure_alerts_only_for_the_send_that_opened_the_circuit(
        events, job, caplog, alerts, redis_client, keys):
    verdict = Verdict(FailureClass.SYSTEMIC, http_status=401, grpc_code=16, message="no")

    for first in (True, False, False):
        events.circuit_opened(job, verdict, first)
    events.circuit_closed()

    assert [kind for kind, _, _ in alerts.sent] == ["systemic"]
    assert [r.notify["status"] for r in caplog.records] == ["open", "closed"]
    assert caplog.records[0].levelno == logging.ERROR
    counters = read_counters(redis_client, keys)
    assert (counters["circuit_opened"], counters["circuit_closed"]) == (1, 1)


def test_deferrals_skips_and_late_results_are_counted_by_bounded_labels(
        events, job, redis_client, keys):
    events.deferred(job, "circuit open")
    events.deferred(job, "slot too far off")
    events.skipped(job.job_id, "final", "succeeded")
    events.late(job, None)

    counters = read_counters(redis_client, keys)
    assert counters["deferred:circuit_open"] == counters["deferred:slot_too_far_off"] == 1
    assert counters["skipped:final"] == 1
    assert counters["late"] == 1


def test_events_without_metrics_still_log(job, caplog):
    caplog.set_level(logging.INFO, "notify_relay")
    Events().deferred(job, "circuit open")

    assert caplog.records[0].notify["why"] == "circuit_open"


def test_a_metrics_write_that_fails_does_not_fail_the_delivery(job, keys, caplog):
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))

    Events(metrics=Metrics(unreachable, keys)).retrying(job, attempt_of(
        Verdict(FailureClass.TRANSIENT, http_status=503)), 1.0)

    assert any("metrics not recorded" in r.getMessage() for r in caplog.records)


def test_the_json_format_carries_the_fields_as_keys_and_never_the_record_args(job, caplog):
    caplog.set_level(logging.INFO, "notify_relay")
    verdict = Verdict(FailureClass.TRANSIENT, http_status=503, message='say "hi"')
    Events().attempt(job, attempt_of(verdict), verdict)
    celery_style = logging.LogRecord("celery.app.trace", logging.INFO, __file__, 1,
                                     "Task %(name)s succeeded", {"name": "t", "args": "[secret]"},
                                     None)

    line = json.loads(JsonFormatter().format(caplog.records[0]))
    other = JsonFormatter().format(celery_style)

    assert line["event"] == "attempt" and line["job"] == job.job_id
    assert (line["http_status"], line["level"], line["logger"]) == (
        503, "info", "notify_relay.delivery")
    assert line["message"].endswith('error="say \\"hi\\""')
    assert line["ts"].endswith("Z")
    assert json.loads(other)["message"] == "Task t succeeded" and "secret" not in other


@pytest.mark.integration
def test_a_worker_with_json_logs_writes_every_line_as_json_with_the_job_fields(
        producer, start_worker, api_token):
    worker = start_worker(NOTIFY_LOG_FORMAT="json")
    job_id = producer.enqueue(example())
    assert producer.wait(job_id, timeout=30)["status"] == "succeeded"

    def logged() -> list[dict[str, Any]]:
        return [json.loads(line) for line in worker.log_text().splitlines()
                if line.startswith("{")]

    wait_until(lambda: any(r.get("status") == "succeeded" for r in logged()), 10,
               "the success line")
    mine = [r for r in logged() if r.get("job") == job_id]
    assert [r["event"] for r in mine] == ["state"]  # a success's attempt line is DEBUG
    assert mine[0]["http_status"] == 200 and mine[0]["duration_ms"] > 0
    assert all(r["task_name"] == "notify_relay.deliver" for r in mine)
    assert any(r["logger"].startswith("celery") for r in logged())
    assert api_token not in worker.log_text()
