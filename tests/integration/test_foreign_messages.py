"""Messages not made by notify-relay, published with plain Celery: whole jobs are taken in
(under the budget like any other); what cannot run is discarded without its content in
the log (security review L4)."""

from __future__ import annotations

import secrets

import pytest
from celery import Celery

from notify_relay.processes import wait_until
from producers.job import TASK_NAME, Job
from producers.keys import Keys
from tests.integration.helpers import example

pytestmark = pytest.mark.integration


def publisher(settings) -> Celery:
    app = Celery(broker=settings.redis_url)
    app.conf.broker_transport_options = {"global_keyprefix": settings.key_prefix}
    return app


def test_a_whole_job_published_with_celery_is_taken_in_and_sent_once(
        settings, start_worker, producer, emulator_client, redis_client):
    job = Job.new(example(), max_age_s=60, priority="urgent")
    worker = start_worker()
    app = publisher(settings)
    app.send_task(TASK_NAME, args=[job.to_dict()], queue=settings.queue)
    app.send_task(TASK_NAME, args=[job.to_dict()], queue=settings.queue)  # twice: known
    app.close()
    outcome = producer.wait(job.job_id, timeout=30)
    assert (outcome["status"], outcome["priority"]) == ("succeeded", "urgent")
    keys = Keys(settings.key_prefix)
    wait_until(lambda: redis_client.llen(keys.queue(settings.queue)) == 0
               and redis_client.hlen(keys.unacked) == 0, 20, "both copies to be taken")
    assert len(emulator_client.requests()) == 1
    assert worker.alive()


def test_an_unregistered_task_is_discarded_without_its_content_in_the_log(
        settings, start_worker):
    user = f"user-{secrets.token_hex(6)}"
    worker = start_worker()
    app = publisher(settings)
    app.send_task("someone.elses.task", args=[{"users": [user]}], queue=settings.queue)
    app.close()
    wait_until(lambda: "someone.elses.task" in worker.log_text(), 20, "the refusal")
    assert "discarded, its content is not logged" in worker.log_text()
    assert user not in worker.log_text()
    assert worker.alive()



def test_a_job_whose_numbers_overflow_a_float_does_not_stop_the_worker(
        settings, start_worker, producer, emulator_client):
    """Celery builds a task's summary for its events before the task runs, and an error
    there stops the worker: `attempt: Infinity` (kombu's JSON reads it) once did, and the
    message, restored, would have stopped every worker in turn. A foreign job's attempt
    and retries are not taken in, so the job itself is sent."""
    job = Job.new(example(), max_age_s=60)
    worker = start_worker()
    app = publisher(settings)
    app.send_task(TASK_NAME, args=[{**job.to_dict(), "attempt": float("inf"),
                                    "retries": 10 ** 400}], queue=settings.queue)
    app.close()
    assert producer.wait(job.job_id, timeout=30)["attempt_count"] == 1
    assert len(emulator_client.requests()) == 1
    assert "Unrecoverable error" not in worker.log_text() and worker.alive()
