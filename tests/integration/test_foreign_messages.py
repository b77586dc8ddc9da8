"""Messages not made by notify-relay, published with plain Celery: whole jobs are taken in
(under the budget like any other); what cannot run is discarded without its content in
the log (security review L4)."""

from __future__ import annotations

import secrets

import pytest
from celery import Celery

from notify_relay.processes import wait_until
from producers.job import BATCH_TASK_NAME, TASK_NAME, Job
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



@pytest.mark.parametrize("serializer", ["pickle", "yaml"])
def test_a_message_in_a_refused_content_type_is_discarded_without_its_content_in_the_log(
        settings, start_worker, serializer):
    """The worker accepts JSON only: Celery refuses a pickle or YAML body before the task
    runs, and would log up to 1 KB of it (targets, content) at ERROR, and so to Sentry."""
    user = f"user-{secrets.token_hex(6)}"
    job = {**Job.new(example(), max_age_s=60).to_dict(), "note": user}
    worker = start_worker()
    app = publisher(settings)
    app.send_task(TASK_NAME, args=[job], queue=settings.queue, serializer=serializer)
    app.close()
    wait_until(lambda: "Received invalid task message" in worker.log_text(), 20,
               "the refusal")  # what happened is kept ...
    assert "discarded, its content is not logged" in worker.log_text()  # ... not what was in it
    assert user not in worker.log_text() and job["job_id"] not in worker.log_text()
    assert worker.alive()

#: Times kombu's JSON carries that no real job has (L6): non-finite, too large for a
#: float, or a lifetime longer than any record is kept.
ABSURD_EXPIRIES = [float("inf"), float("-inf"), float("nan"), 10 ** 400, 1e20]


def test_a_job_with_an_absurd_expiry_is_dropped_and_the_rest_of_its_batch_taken_in(
        settings, start_worker, producer, emulator_client, redis_client):
    """Once `expires_at: Infinity` made adopting raise OverflowError, which the task did
    not catch: the jobs after it in the batch were never taken in."""
    first, last = (Job.new(example(), max_age_s=60) for _ in range(2))
    absurd = [{**Job.new(example(), max_age_s=60).to_dict(), "expires_at": value}
              for value in ABSURD_EXPIRIES]
    worker = start_worker()
    app = publisher(settings)
    app.send_task(BATCH_TASK_NAME, args=[[first.to_dict(), *absurd, last.to_dict()]],
                  queue=settings.queue)
    app.send_task(TASK_NAME, args=[absurd[0]], queue=settings.queue)  # alone, too
    app.close()
    assert producer.wait(first.job_id, timeout=30)["status"] == "succeeded"
    assert producer.wait(last.job_id, timeout=30)["status"] == "succeeded"
    dropped = "dropped a message item that is not a valid notify-relay job: ValueError"
    wait_until(lambda: worker.log_text().count(dropped) == len(absurd) + 1, 20,
               "every absurd job to be dropped with a line")
    keys = Keys(settings.key_prefix)
    assert not any(redis_client.exists(keys.outcome(job["job_id"])) for job in absurd)
    assert len(emulator_client.requests()) == 2
    assert "OverflowError" not in worker.log_text() and worker.alive()
