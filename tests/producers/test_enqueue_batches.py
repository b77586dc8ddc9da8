"""`enqueue_many` packs jobs into batch messages, one atomic script per message.

Checked against a real Redis: what is queued, what is recorded, what the watchdog
watches, and how idempotency keys behave when a batch carries several of them.
"""

from __future__ import annotations

import base64
import json

import pytest

from producers import Producer
from producers.job import BATCH_TASK_NAME, TASK_NAME
from producers.keys import Keys
from tests.integration.helpers import example


@pytest.fixture
def batching(settings):
    producer = Producer(settings=settings.replace(batch_size=4))
    yield producer
    producer.close()


def queued(redis_client, settings) -> list[tuple[str, list]]:
    """(task name, argument) of every queued message, oldest first."""
    raw = redis_client.lrange(Keys(settings.key_prefix).queue(settings.queue), 0, -1)
    out = []
    for item in reversed(raw):
        envelope = json.loads(item)
        args, _, _ = json.loads(base64.b64decode(envelope["body"]))
        out.append((envelope["headers"]["task"], args[0]))
    return out


def test_jobs_travel_batch_size_to_a_message_in_input_order(batching, redis_client, settings):
    ids = batching.enqueue_many([example() for _ in range(10)])
    messages = queued(redis_client, settings)
    assert [task for task, _ in messages] == [BATCH_TASK_NAME] * 3
    assert [[job["job_id"] for job in jobs] for _, jobs in messages] == [
        ids[0:4], ids[4:8], ids[8:10]]
    assert all(batching.outcome(job_id)["status"] == "queued" for job_id in ids)


def test_a_batch_is_watched_as_one_entry_holding_its_message(batching, redis_client,
                                                            settings):
    batching.enqueue_many([example() for _ in range(6)])
    keys = Keys(settings.key_prefix)
    members = [m.decode() for m in redis_client.zrange(keys.watch, 0, -1)]
    assert len(members) == 2 and all(m.startswith("batch:") for m in members)
    queue = set(redis_client.lrange(keys.queue(settings.queue), 0, -1))
    assert set(redis_client.hvals(keys.watch_messages)) == queue


def test_a_lone_job_and_enqueue_go_as_single_job_messages(batching, redis_client, settings):
    batching.enqueue(example())
    batching.enqueue_many([example()])
    assert [task for task, _ in queued(redis_client, settings)] == [TASK_NAME, TASK_NAME]


def test_a_key_repeated_in_one_call_is_queued_once(batching, redis_client, settings):
    ids = batching.enqueue_many([example() for _ in range(5)],
                                idempotency_keys=["a", "b", "a", None, "b"])
    assert ids[2] == ids[0] and ids[4] == ids[1] and len(set(ids)) == 3
    sent = [job["job_id"] for _, jobs in queued(redis_client, settings) for job in jobs]
    assert sorted(sent) == sorted(set(ids))


def test_keys_already_taken_drop_their_jobs_from_the_batch(batching, redis_client,
                                                           settings):
    first = batching.enqueue(example(), idempotency_key="k1")
    ids = batching.enqueue_many([example() for _ in range(4)],
                                idempotency_keys=["k0", "k1", "k2", "k1"])
    assert ids[1] == ids[3] == first
    messages = queued(redis_client, settings)
    assert len(messages) == 2  # the first job's own message, then one rebuilt batch
    task, jobs = messages[1]
    assert task == BATCH_TASK_NAME
    assert [job["job_id"] for job in jobs] == [ids[0], ids[2]]
    # Nothing was written for the dropped jobs: no record under their discarded ids.
    assert batching.outcome(first)["status"] == "queued"
    assert redis_client.hlen(Keys(settings.key_prefix).watch_messages) == 2


def test_a_batch_whose_every_key_is_taken_queues_nothing(batching, redis_client, settings):
    first = batching.enqueue_many([example(), example()], idempotency_keys=["x", "y"])
    again = batching.enqueue_many([example(), example()], idempotency_keys=["x", "y"])
    assert again == first
    assert len(queued(redis_client, settings)) == 1


def test_batch_size_one_queues_one_message_per_job(settings, redis_client):
    producer = Producer(settings=settings.replace(batch_size=1))
    try:
        producer.enqueue_many([example() for _ in range(3)])
    finally:
        producer.close()
    assert [task for task, _ in queued(redis_client, settings)] == [TASK_NAME] * 3
