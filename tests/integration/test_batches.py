"""Batch messages through real workers and the emulator.

The dispatcher hands waiting jobs out NOTIFY_BATCH_SIZE to a message, whether they were
enqueued one by one or together; a batch's jobs are delivered side by side, each with
its own claim, outcome and retry, and stop being watched once recorded.
"""

from __future__ import annotations

import pytest
from celery import Celery

from notify_relay.processes import wait_until
from producers import Producer
from producers.job import BATCH_TASK_NAME, DELIVER_TASK_NAME, Job
from producers.keys import Keys
from tests.integration.helpers import example, handed_out
from worker.store import Stores
from worker.store.metrics import read_counters

pytestmark = pytest.mark.integration


def send_in_batches(settings, start_worker, jobs: int, batch_size: int) -> list[dict]:
    """Enqueue `jobs` requests `batch_size` to a message, start a worker, wait for all."""
    batching = settings.replace(batch_size=batch_size)
    producer = Producer(settings=batching)
    try:
        ids = producer.enqueue_many([example() for _ in range(jobs)])
        start_worker(settings_override=batching)
        return [producer.wait(job_id, timeout=30) for job_id in ids]
    finally:
        producer.close()


def test_every_job_of_every_batch_is_sent_once_and_recorded(
        settings, start_worker, emulator_client, redis_client):
    outcomes = send_in_batches(settings, start_worker, jobs=30, batch_size=8)
    assert {o["status"] for o in outcomes} == {"succeeded"}
    assert all(o["attempt_count"] == 1 for o in outcomes)
    assert len(emulator_client.requests()) == 30
    keys = Keys(settings.key_prefix)
    wait_until(lambda: redis_client.zcard(keys.watch) == 0, 10, "the batches to be unwatched")


def test_one_job_enqueues_travel_in_batch_messages_too(settings, start_worker, emulator_client,
                                                       redis_client):
    batching = settings.replace(batch_size=8)
    producer = Producer(settings=batching)
    try:
        ids = [producer.enqueue(example()) for _ in range(16)]  # waiting before any worker
        start_worker(settings_override=batching)
        assert {producer.wait(i, timeout=30)["status"] for i in ids} == {"succeeded"}
    finally:
        producer.close()
    keys = Keys(settings.key_prefix)
    wait_until(lambda: read_counters(redis_client, keys).get("message_jobs") == 16, 10,
               "the worker's counters")
    assert read_counters(redis_client, keys)["messages"] == 2  # two messages of eight jobs
    assert len(emulator_client.requests()) == 16


def test_one_failing_job_is_retried_alone_while_its_batch_succeeds(
        settings, start_worker, emulator_client, redis_client):
    emulator_client.script({"kind": "respond", "status": 503, "count": 1})
    outcomes = send_in_batches(settings, start_worker, jobs=5, batch_size=5)
    assert {o["status"] for o in outcomes} == {"succeeded"}
    assert sorted(o["attempt_count"] for o in outcomes) == [1, 1, 1, 1, 2]
    assert len(emulator_client.requests()) == 6
    keys = Keys(settings.key_prefix)
    wait_until(lambda: redis_client.zcard(keys.watch) == 0, 10, "nothing left to watch")


def test_a_batch_redelivered_after_it_was_done_sends_nothing_again(
        settings, start_worker, emulator_client, redis_client):
    """A copy of a finished batch (kombu restoring it late, say) is fenced by claims."""
    batching = settings.replace(batch_size=4)
    producer = Producer(settings=batching)
    keys = Keys(settings.key_prefix)
    queue = keys.queue(settings.queue)
    try:
        ids = producer.enqueue_many([example() for _ in range(4)])
        stores = Stores.build(batching, redis_client)
        stores.waiting.dispatch()
        [message] = redis_client.lrange(queue, 0, -1)
        worker = start_worker(settings_override=batching)
        for job_id in ids:
            producer.wait(job_id, timeout=30)
        redis_client.rpush(queue, message)
        wait_until(lambda: worker.log_text().count("verdict=final") == 4, 20,
                   "the copy's four jobs to be skipped")
        outcomes = [producer.outcome(job_id) for job_id in ids]
    finally:
        producer.close()
    assert [o["attempt_count"] for o in outcomes] == [1, 1, 1, 1]
    assert len(emulator_client.requests()) == 4


def test_an_item_that_is_not_a_job_is_dropped_and_the_rest_of_its_batch_sent(
        settings, start_worker, emulator_client, producer):
    """A batch published by hand (plain Celery) with one malformed item: the worker logs
    and drops that item, takes the real job in (it waits, then goes), and keeps running."""
    job = Job.new(example(), max_age_s=60)
    publisher = Celery(broker=settings.redis_url)
    publisher.conf.broker_transport_options = {"global_keyprefix": settings.key_prefix}
    worker = start_worker()
    publisher.send_task(BATCH_TASK_NAME, args=[[{"not": "a job"}, job.to_dict()]],
                        queue=settings.queue)
    publisher.close()
    assert producer.wait(job.job_id, timeout=30)["status"] == "succeeded"
    wait_until(lambda: "not a valid notify-relay job" in worker.log_text(), 10,
               "the malformed item to be logged")
    assert len(emulator_client.requests()) == 1
    assert worker.alive()


#: worker/tasks.py MAX_ITEMS: a deliver message with more items (or than NOTIFY_BATCH_SIZE,
#: if larger) is not one the dispatcher makes. Not imported: worker.tasks builds the
#: Celery app in whatever process imports it.
MAX_ITEMS = 1000


def test_a_deliver_message_over_the_item_cap_is_refused_whole_and_its_jobs_come_back(
        settings, start_worker, emulator_client, redis_client):
    """M10: a message of more items than any dispatch makes is refused before one is
    claimed or sent; its real jobs, still watched, are put back by the watchdog (after
    twice the visibility timeout) and sent once each."""
    quick = settings.replace(visibility_timeout_s=4.0, connect_timeout_s=0.5,
                             read_timeout_s=1.5)  # the watchdog's grace: 8 s
    producer = Producer(settings=quick)
    try:
        ids = producer.enqueue_many([example() for _ in range(3)])
        real = [[i.job_id, i.dispatch, i.slot_ms, i.probe]
                for i in handed_out(Stores.build(quick, redis_client))]
        fillers = [[f"filler-{n}", 1, -1, False]
                   for n in range(max(MAX_ITEMS, quick.batch_size) + 1 - len(real))]
        worker = start_worker(settings_override=quick)
        publisher = Celery(broker=quick.redis_url)
        publisher.conf.broker_transport_options = {"global_keyprefix": quick.key_prefix}
        publisher.send_task(DELIVER_TASK_NAME, args=[real + fillers], queue=quick.queue)
        publisher.close()
        refused = f"refused a deliver message of {MAX_ITEMS + 1} items"
        wait_until(lambda: refused in worker.log_text() or emulator_client.requests(), 20,
                   "the oversize message to be refused (or sent)")
        assert emulator_client.requests() == [] and refused in worker.log_text()
        assert [producer.outcome(job_id)["status"] for job_id in ids] == ["queued"] * 3
        outcomes = [producer.wait(job_id, timeout=30) for job_id in ids]
    finally:
        producer.close()
    assert [(o["status"], o["attempt_count"]) for o in outcomes] == [("succeeded", 1)] * 3
    assert len(emulator_client.requests()) == 3
    assert "worker lost" not in str(outcomes)  # never claimed: no attempt to account for
    assert "verdict=unknown" not in worker.log_text()  # no filler was ever claimed


def test_jobs_of_a_batch_not_started_by_half_the_visibility_timeout_wait_again_unsent(
        settings, start_worker, emulator_client, redis_client):
    """M10: one sender and a 2.5 s endpoint would make a batch of three take 7.5 s, past
    half the visibility timeout (4 s). The jobs not started by then go back to wait
    unsent, with no attempt spent or logged, and come in a later message, so the batch's
    own message is done long before kombu would hand it to another worker."""
    slow = settings.replace(batch_size=3, batch_senders=1, visibility_timeout_s=8.0,
                            connect_timeout_s=1.0, read_timeout_s=4.0)
    emulator_client.set_latency(2500)
    producer = Producer(settings=slow)
    try:
        ids = producer.enqueue_many([example() for _ in range(3)])  # one message of three
        start_worker(settings_override=slow)
        outcomes = [producer.wait(job_id, timeout=40) for job_id in ids]
    finally:
        producer.close()
    keys = Keys(slow.key_prefix)
    wait_until(lambda: read_counters(redis_client, keys).get("message_jobs", 0) > 3, 10,
               "the worker's counters to show a job handed out again")
    counters = read_counters(redis_client, keys)
    assert counters["messages"] >= 2  # the batch, then one for what it gave back
    assert [(o["status"], o["attempt_count"]) for o in outcomes] == [("succeeded", 1)] * 3
    assert not any(a["ambiguous"] for o in outcomes for a in o["attempts"])
    assert len(emulator_client.requests()) == 3  # each sent once: none before it came back
