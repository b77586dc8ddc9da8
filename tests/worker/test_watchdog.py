"""The watchdog against a real Redis: a message that is nowhere is published again."""

from __future__ import annotations

import json

import pytest

from producers.job import Job
from producers.keys import Keys
from producers.message import batch_message, batch_watch_id, task_message
from producers.outcomes import Status
from worker.store.claims import ClaimStore
from worker.store.watchdog import Watchdog

QUEUE = "q"


@pytest.fixture
def keys(key_prefix) -> Keys:
    return Keys(key_prefix)


@pytest.fixture
def watchdog(redis_client, keys) -> Watchdog:
    return Watchdog(redis_client, keys, QUEUE, grace_s=10)


def watched_job(redis_client, keys, watchdog, status: Status = Status.QUEUED) -> tuple[Job, str]:
    job = Job(job_id="job-1", request={"segment": {"application": "APP"}}, enqueued_at=0.0,
              expires_at=1e12)
    message = task_message(job, QUEUE)
    pipe = redis_client.pipeline()
    ClaimStore(redis_client, keys, 600).record(pipe, job, None, status)
    watchdog.track(pipe, job.job_id, message, check_at=0.0)
    pipe.execute()
    return job, message


def test_a_message_still_queued_is_left_alone(redis_client, keys, watchdog):
    _, message = watched_job(redis_client, keys, watchdog)
    redis_client.lpush(keys.queue(QUEUE), message)
    assert watchdog.check(now=100.0) == {"present": 1}
    assert redis_client.llen(keys.queue(QUEUE)) == 1


def test_a_message_held_unacknowledged_or_parked_is_left_alone(redis_client, keys, watchdog):
    _, message = watched_job(redis_client, keys, watchdog)
    tag = json.loads(message)["properties"]["delivery_tag"]
    redis_client.hset(keys.unacked, tag, "[...]")
    assert watchdog.check(now=100.0) == {"present": 1}
    redis_client.delete(keys.unacked)
    redis_client.zadd(keys.retries, {message: 1})
    assert watchdog.check(now=200.0) == {"present": 1}
    assert redis_client.llen(keys.queue(QUEUE)) == 0


def test_a_message_that_is_nowhere_is_published_again_once(redis_client, keys, watchdog):
    _, message = watched_job(redis_client, keys, watchdog)
    assert watchdog.check(now=100.0) == {"republished": 1}
    assert redis_client.lrange(keys.queue(QUEUE), 0, -1) == [message.encode()]
    assert watchdog.check(now=100.0) == {}  # not due again before the grace has passed
    assert watchdog.check(now=111.0) == {"present": 1}


def test_final_jobs_are_forgotten(redis_client, keys, watchdog):
    watched_job(redis_client, keys, watchdog, status=Status.SUCCEEDED)
    assert watchdog.check(now=100.0) == {"done": 1}
    assert watchdog.size() == 0
    assert redis_client.hlen(keys.watch_messages) == 0


def test_a_job_being_sent_is_looked_at_again_after_its_lease(redis_client, keys, watchdog):
    job, _ = watched_job(redis_client, keys, watchdog)
    ClaimStore(redis_client, keys, 600).claim(job, owner="w", lease_s=30, now=90.0)
    assert watchdog.check(now=100.0) == {"leased": 1}
    assert watchdog.check(now=125.0) == {}  # lease ends at 120, plus the grace
    assert watchdog.check(now=131.0) == {"republished": 1}


def watched_batch(redis_client, keys, watchdog) -> tuple[str, str]:
    jobs = [Job(job_id=f"job-{i}", request={"segment": {"application": "APP"}},
                enqueued_at=0.0, expires_at=1e12) for i in range(3)]
    watch_id = batch_watch_id("task-1")
    message = batch_message(jobs, QUEUE, "task-1")
    pipe = redis_client.pipeline()
    watchdog.track(pipe, watch_id, message, check_at=0.0)
    pipe.execute()
    return watch_id, message


def test_a_lost_batch_message_is_published_again_without_looking_at_outcomes(
        redis_client, keys, watchdog):
    _, message = watched_batch(redis_client, keys, watchdog)
    assert watchdog.check(now=100.0) == {"republished": 1}
    assert redis_client.lrange(keys.queue(QUEUE), 0, -1) == [message.encode()]
    assert watchdog.check(now=111.0) == {"present": 1}


def test_a_batch_held_unacknowledged_is_left_alone_and_forgotten_once_untracked(
        redis_client, keys, watchdog):
    watch_id, message = watched_batch(redis_client, keys, watchdog)
    redis_client.hset(keys.unacked, json.loads(message)["properties"]["delivery_tag"], "[...]")
    assert watchdog.check(now=100.0) == {"present": 1}
    pipe = redis_client.pipeline()
    watchdog.untrack(pipe, watch_id)  # what send_batch does once every job is recorded
    pipe.execute()
    assert watchdog.size() == 0 and redis_client.hlen(keys.watch_messages) == 0
