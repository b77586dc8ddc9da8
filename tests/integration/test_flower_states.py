"""Flower tells what became of the jobs: a real worker, a real Flower, read through its API.

A task is one `deliver` message. Its state: FAILURE when a job of it died (a one-line
`JobsDead` naming the job, the reason, the HTTP status and gRPC code), RETRY when some
wait again (a `JobsWaiting` saying when the first is due back), SUCCESS otherwise; its
summary lists every job id it carries, so Flower's search finds a task by any job.

Flower starts listening before the worker starts, and the worker sends task events from
the start (NOTIFY_TASK_EVENTS), so Flower sees every task of a test. Jobs enqueued before
the worker starts wait together and go out in one batch message (NOTIFY_BATCH_SIZE).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from notify_relay.cli import cli
from notify_relay.processes import Service, wait_until
from producers import Producer
from producers.keys import Keys
from producers.settings import Settings
from tests.integration.flower_api import (
    Flower,
    secrets_in,
    transactional_with_personal_data,
    wait_until_flower_listens,
)

pytestmark = pytest.mark.integration

REJECT = {"kind": "respond", "status": 400, "match": {"application": "PERMA-11111"},
          "body": {"code": 3, "message": "invalid platforms"}}


class Secrets:
    """The personal data and content the requests carry, and the token: never in Flower."""

    def __init__(self, api_token: str) -> None:
        self.user_id = f"user-{secrets.token_hex(6)}"
        self.email = f"{secrets.token_hex(4)}@example.com"
        self.content = f"Your code is {secrets.token_hex(5)}"
        self.token = api_token

    def request(self, application: str | None = None) -> dict[str, Any]:
        request = transactional_with_personal_data(self.user_id, self.email, application)
        request["transactional"]["payload"]["content"]["localized_content"]["en"]["ios"][
            "body"] = self.content
        return request

    def shown_by(self, flower: Flower) -> list[str]:
        return secrets_in("\n".join(flower.answers), self.token, self.user_id, self.email,
                          self.content)


@pytest.fixture
def private(api_token: str) -> Secrets:
    return Secrets(api_token)


def watched_worker(start_worker, settings: Settings, flower: Flower, **changes: Any) -> Service:
    """A worker that sends task events from its start, once Flower listens."""
    wait_until_flower_listens(flower, settings)
    return start_worker(settings_override=settings.replace(task_events=True, **changes))


def node(worker: Service) -> str:
    return f"{worker.name}@{socket.gethostname()}"


def wait_for_tasks(flower: Flower, job_id: str, *states: str) -> list[dict[str, Any]]:
    """The tasks Flower finds by `job_id`, once they are in `states` (oldest first)."""
    def found() -> bool:
        return [t["state"] for t in flower.tasks_of(job_id)] == list(states)

    wait_until(found, 20, f"Flower to show {states} for {job_id}", poll_s=0.2)
    return flower.tasks_of(job_id)


def wait_until_acknowledged(redis_client: redis.Redis, settings: Settings) -> None:
    """Nothing queued and nothing unacked: no copy of any message can come again."""
    keys = Keys(settings.key_prefix)
    wait_until(lambda: redis_client.llen(keys.queue(settings.queue)) == 0
               and redis_client.hlen(keys.unacked) == 0, 10, "every message to be acked")


def test_a_dead_job_is_a_failed_task_with_its_reason_acknowledged_and_sent_once(
        settings, start_worker, flower, producer: Producer, emulator_client, redis_client,
        private: Secrets):
    emulator_client.script(REJECT)
    worker = watched_worker(start_worker, settings, flower)

    job_id = producer.enqueue(private.request("PERMA-11111"))
    assert producer.wait(job_id, timeout=30)["status"] == "dead"

    [task] = wait_for_tasks(flower, job_id, "FAILURE")
    assert task["exception"] == (f"JobsDead('1 of 1 job(s) dead: {job_id} permanent "
                                 f"HTTP 400 gRPC 3 (dead=1)')")
    assert not task["traceback"]  # an expected outcome: the one line says it all
    assert flower.task(task["uuid"])["state"] == "FAILURE"
    wait_until_acknowledged(redis_client, settings)
    assert len(emulator_client.requests()) == 1  # sent once, never redelivered
    log = worker.log_text()
    assert "Traceback" not in log and " ERROR/" not in log, log[-3000:]
    counters = flower.worker_counters()[node(worker)]
    assert (counters["task-received"], counters["task-failed"]) == (1, 1)
    assert private.shown_by(flower) == []


def test_a_job_parked_for_a_retry_is_a_retried_task_saying_when_it_comes_back(
        settings, start_worker, flower, producer: Producer, emulator_client, redis_client,
        private: Secrets):
    # A 429's Retry-After sets the delay (a 503's backoff is random): due back in 2 s.
    emulator_client.script({"kind": "respond", "status": 429, "count": 1,
                            "headers": {"Retry-After": "2"}})
    worker = watched_worker(start_worker, settings, flower, backoff_max_s=5.0)

    job_id = producer.enqueue(private.request())
    assert producer.wait(job_id, timeout=30)["status"] == "succeeded"

    retried, succeeded = wait_for_tasks(flower, job_id, "RETRY", "SUCCESS")
    match = re.fullmatch(r"JobsWaiting\('1 of 1 job\(s\) wait again \(retry=1\), the first due "
                         r"back at (.+) UTC \(in (\d+\.\d)s\)'\)", retried["exception"])
    assert match, retried["exception"]
    due = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
    assert 1.5 <= due - retried["retried"] <= 2.5  # Retry-After: 2
    assert 1.5 <= float(match[2]) <= 2.5
    assert not retried["traceback"]
    assert succeeded["received"] >= due - 0.1 and succeeded["result"] == "'sent=1'"
    wait_until_acknowledged(redis_client, settings)
    assert len(emulator_client.requests()) == 2
    assert "Traceback" not in worker.log_text()
    counters = flower.worker_counters()[node(worker)]
    assert [counters.get(k, 0) for k in ("task-received", "task-retried", "task-succeeded",
                                         "task-failed")] == [2, 1, 1, 0]
    assert private.shown_by(flower) == []


def enqueue_a_batch_with_one_dead_job(producer: Producer, private: Secrets) -> list[str]:
    """Four jobs waiting together (the second one rejected by the endpoint with a 400)."""
    return producer.enqueue_many([private.request(), private.request("PERMA-11111"),
                                  private.request(), private.request()])


def test_a_batch_with_one_dead_job_fails_naming_it_and_any_of_its_jobs_finds_it(
        settings, start_worker, flower, producer: Producer, emulator_client, redis_client,
        private: Secrets):
    emulator_client.script(REJECT)
    job_ids = enqueue_a_batch_with_one_dead_job(producer, private)
    watched_worker(start_worker, settings.replace(batch_size=4), flower)
    assert [producer.wait(i, timeout=30)["status"] for i in job_ids] == [
        "succeeded", "dead", "succeeded", "succeeded"]

    [task] = wait_for_tasks(flower, job_ids[0], "FAILURE")
    carried = re.fullmatch(r"\('deliver 4: (.+)',\)", task["args"])[1].split()
    assert sorted(carried) == sorted(job_ids)  # ids only, every one of them
    assert task["exception"] == (f"JobsDead('1 of 4 job(s) dead: {job_ids[1]} permanent "
                                 f"HTTP 400 gRPC 3 (dead=1 sent=3)')")
    # A job in the middle of the batch, as an operator would type it into the search box:
    for job_id in carried[1:-1]:
        assert list(flower.tasks(search=job_id)) == [task["uuid"]]
    assert list(flower.tasks(search=job_ids[1], state="FAILURE")) == [task["uuid"]]
    wait_until_acknowledged(redis_client, settings)
    assert len(emulator_client.requests()) == 4
    assert private.shown_by(flower) == []


def stats(settings: Settings) -> dict[str, Any]:
    answer = CliRunner().invoke(cli, ["stats", "--json"], env=settings.to_env(),
                                catch_exceptions=False)
    assert answer.exit_code == 0, answer.output
    return dict(json.loads(answer.output))


def test_flowers_worker_counters_are_the_message_counts_of_stats_not_the_job_counts(
        settings, start_worker, flower, producer: Producer, emulator_client, redis_client,
        private: Secrets):
    emulator_client.script(REJECT, {"kind": "respond", "status": 503, "count": 1,
                                    "match": {"application": "TRANS-22222"}})
    batch = enqueue_a_batch_with_one_dead_job(producer, private)  # one message: FAILURE
    worker = watched_worker(start_worker, settings.replace(batch_size=4), flower)
    [producer.wait(job_id, timeout=30) for job_id in batch]
    retried = producer.enqueue(private.request("TRANS-22222"))  # RETRY, then SUCCESS
    assert producer.wait(retried, timeout=30)["status"] == "succeeded"

    # Three messages: the batch (FAILURE), the retried job's first (RETRY) and second (SUCCESS).
    expected = {"taken": 3, "jobs": 6, "succeeded": 1, "failed": 1, "retried": 1, "rejected": 0}
    wait_until(lambda: stats(settings)["messages"] == expected, 10, "the worker's counters")
    messages = stats(settings)["messages"]

    def flowers_counts() -> dict[str, int]:
        row = flower.worker_counters()[node(worker)]
        return {state: row.get(f"task-{name}", 0) for state, name in (
            ("taken", "received"), ("succeeded", "succeeded"), ("failed", "failed"),
            ("retried", "retried"), ("rejected", "rejected"))}

    same = {state: n for state, n in messages.items() if state != "jobs"}
    with contextlib.suppress(TimeoutError):  # events reach Flower a moment later
        wait_until(lambda: flowers_counts() == same, 10, "Flower's counters", poll_s=0.2)
    assert flowers_counts() == same
    totals = stats(settings)["totals"]
    # ...while the job totals count jobs: four delivered, one dead, one retry.
    assert (totals["succeeded"], totals["dead:permanent"], totals["retries:transient"]) == (
        4, 1, 1)
    assert private.shown_by(flower) == []
