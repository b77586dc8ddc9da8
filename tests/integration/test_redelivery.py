"""Effectively-once: redelivery after a killed worker, duplicates, replay, shutdown, bounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from notify_relay.processes import wait_until
from producers import Producer
from producers.keys import Keys
from tests.integration.helpers import example
from worker.store import Stores

pytestmark = pytest.mark.integration


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "notify_relay.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_job_held_by_a_killed_worker_is_redelivered_and_sent_at_most_twice(
        producer, start_worker, settings, emulator_client):
    fast = settings.replace(read_timeout_s=5.0, visibility_timeout_s=8.0)
    emulator_client.script({"kind": "hang", "hang_s": 30, "count": 1})
    doomed = start_worker(settings_override=fast)
    job_id = producer.enqueue(example())
    emulator_client.wait_for_requests(1, timeout=15)

    killed_at = time.time()
    doomed.kill()
    start_worker(settings_override=fast)
    outcome = producer.wait(job_id, timeout=60)

    first, second = emulator_client.requests()
    assert outcome["status"] == "succeeded"
    # Bounded by the visibility timeout plus a restore sweep (and a busy machine's
    # scheduling), not by kombu's default hour.
    assert second["time"] - killed_at < fast.visibility_timeout_s + 20
    lost, sent = outcome["attempts"]
    assert lost["ambiguous"] is True and "worker lost" in lost["error"]
    assert sent["outcome"] == "success"


def test_a_redelivered_copy_of_a_succeeded_job_is_acknowledged_without_a_post(
        producer, start_worker, settings, emulator_client, redis_client):
    queue = Keys(settings.key_prefix).queue(settings.queue)
    job_id = producer.enqueue(example())
    Stores.build(settings, redis_client).waiting.dispatch()  # hand it out ourselves
    [message] = redis_client.lrange(queue, 0, -1)
    worker = start_worker()
    producer.wait(job_id, timeout=30)

    redis_client.lpush(queue, message)  # the same message again, as kombu may restore it

    wait_until(lambda: f"skip job={job_id}" in worker.log_text(), 30, "the copy to be skipped")
    assert len(emulator_client.requests()) == 1
    assert producer.outcome(job_id)["attempt_count"] == 1


def test_a_second_enqueue_with_the_same_idempotency_key_returns_the_first_job(
        producer, settings, redis_client):
    first = producer.enqueue(example(), idempotency_key="order-77")
    again = producer.enqueue(example(), idempotency_key="order-77")
    batch = producer.enqueue_many([example(), example()], idempotency_keys=["order-77", "o-78"])

    assert again == first == batch[0]
    assert batch[1] != first
    assert redis_client.llen(Keys(settings.key_prefix).waiting("normal", "ABCDE-12345")) == 2
    assert producer.outcome(first)["idempotency_key"] == "order-77"


def test_replay_from_the_dead_letter_store_sends_again_and_records_the_new_outcome(
        producer, start_worker, settings, emulator_client):
    emulator_client.script({"kind": "respond", "status": 404, "count": 1})
    start_worker()
    job_id = producer.enqueue(example(), idempotency_key="replay-me")
    assert producer.wait(job_id, timeout=30)["status"] == "dead"

    listed = cli(settings, "dead", "list", "--json", "--reason", "permanent")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["job"]["job_id"] for line in listed.stdout.splitlines()] == [job_id]
    replayed = cli(settings, "dead", "replay", job_id)
    assert replayed.returncode == 0, replayed.stderr

    wait_until(lambda: producer.outcome(job_id)["status"] == "succeeded", 30, "the replay")
    outcome = producer.outcome(job_id)
    assert [a["outcome"] for a in outcome["attempts"]] == ["permanent", "success"]
    assert outcome["idempotency_key"] == "replay-me"
    assert len(emulator_client.requests()) == 2
    assert cli(settings, "dead", "show", job_id).returncode == 1


def test_sigterm_lets_in_flight_sends_finish_and_starts_nothing_new(
        producer, start_worker, settings, emulator_client):
    emulator_client.set_latency(1500)
    worker = start_worker(settings_override=settings.replace(concurrency=2, batch_senders=2))
    job_ids = producer.enqueue_many([example() for _ in range(4)])
    emulator_client.wait_for_requests(2, timeout=15)

    assert worker.stop(timeout=30) == 0

    statuses = [producer.outcome(job_id)["status"] for job_id in job_ids]
    assert statuses.count("succeeded") == 2
    assert statuses.count("queued") == 2
    assert len(emulator_client.requests()) == 2
    emulator_client.set_latency(0)
    start_worker()
    assert all(producer.wait(j, timeout=30)["status"] == "succeeded" for j in job_ids)


# Keys allowed without a TTL: each is bounded by the number of live jobs or by the
# dead-letter limits (see producers/keys.py).
BOUNDED = ("retries", "watch", "dead:index", "dead:entries", "dead:reasons", "circuit", "unacked",
           "unacked_index", "_kombu.binding", "wait:", "ring:", "apps", "sched", "wake")


def test_every_key_is_under_the_prefix_and_expires_or_is_bounded(
        producer, start_worker, settings, emulator_client, redis_client):
    emulator_client.script({"kind": "respond", "status": 400, "count": 1},
                           {"kind": "respond", "status": 503, "count": 1})
    start_worker()
    job_ids = producer.enqueue_many([example() for _ in range(5)],
                                    idempotency_keys=[f"k{i}" for i in range(5)])
    for job_id in job_ids:
        producer.wait(job_id, timeout=30)

    queue_key = Keys(settings.key_prefix).queue(settings.queue).encode()
    # kombu's own keys carry our prefix too (broker_transport_options.global_keyprefix)
    assert redis_client.exists(f"{settings.key_prefix}_kombu.binding.{settings.queue}")
    for key in redis_client.scan_iter(f"{settings.key_prefix}*"):
        name = key.decode()[len(settings.key_prefix):]
        if key == queue_key or name.startswith(BOUNDED) or name.endswith(":held"):
            continue
        assert redis_client.ttl(key) > 0, f"{key!r} never expires"


def test_a_message_lost_between_brpop_and_unacked_is_published_again_and_sent_once(
        producer, start_worker, settings, emulator_client, redis_client):
    # kombu pops with BRPOP and records the message as unacked in a second command; a
    # worker killed in between loses it. Simulate exactly that loss: pop it ourselves.
    quick = settings.replace(visibility_timeout_s=4.0)
    job_id = Producer(settings=quick).enqueue(example())
    Stores.build(quick, redis_client).waiting.dispatch()
    assert redis_client.rpop(Keys(quick.key_prefix).queue(quick.queue))

    start_worker(settings_override=quick)
    outcome = producer.wait(job_id, timeout=60)

    assert outcome["status"] == "succeeded"
    assert len(emulator_client.requests()) == 1
