"""`notify-relay stats` and `notify-relay health` read a known state out of a real Redis.

The state is written through the owning modules (Producer, RetryPark, DeadLetterStore,
Metrics, Circuit, the heartbeat), not by hand, so these tests break if a reader and its
writer drift apart.
"""

from __future__ import annotations

import json
import time

import pytest
import redis
from click.testing import CliRunner, Result

from notify_relay.cli import cli
from notify_relay.processes import free_port
from producers import Job, Producer
from producers.keys import Keys
from producers.settings import Settings
from tests.integration.helpers import example
from worker.store.circuit import Circuit
from worker.store.deadletters import DeadLetterStore
from worker.store.heartbeat import beat
from worker.store.limiter import RateLimiter
from worker.store.metrics import Metrics
from worker.store.park import Park


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=settings.to_env(), catch_exceptions=False)


@pytest.fixture
def busy(settings: Settings, redis_client: redis.Redis, producer: Producer) -> Settings:
    """2 queued, 1 parked, 3 dead (2 permanent, 1 expired), 4 recent sends, circuit open."""
    keys, now = Keys(settings.key_prefix), time.time()
    producer.enqueue_many([example(), example()])
    jobs = [Job.new(example(), max_age_s=60) for _ in range(4)]
    pipe = redis_client.pipeline()
    Park(redis_client, keys, settings.queue).park(pipe, jobs[0], now + 30)
    dead = DeadLetterStore(redis_client, keys, max_count=10, ttl_s=3600)
    for job, reason in zip(jobs[1:], ["permanent", "permanent", "expired"], strict=True):
        dead.add(pipe, job, reason, "HTTP 400")
    pipe.execute()
    metrics = Metrics(redis_client, keys)
    for failure_class in ("success", "success", "success", "transient"):
        metrics.attempt(failure_class, 0.05)
    metrics.count("succeeded", amount=3)
    Circuit(redis_client, keys, 10).trip(now, "HTTP 401: token revoked")
    beat(redis_client, keys, "worker-a@host-1", now)
    return settings


def test_stats_json_reports_queue_retries_dead_letters_sends_circuit_and_workers(busy):
    result = run(busy, "stats", "--json")

    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    # enqueue_many put both jobs in one message: depth counts jobs, not messages
    assert stats["queue"] == {"name": busy.queue, "depth": 2, "messages": 1,
                              "estimated": False}
    assert stats["retries"]["parked"] == 1 and 25 < stats["retries"]["next_due_in_s"] <= 30
    assert stats["dead_letters"]["total"] == 3
    assert stats["dead_letters"]["by_reason"] == {"permanent": 2, "expired": 1,
                                                  "max_attempts": 0, "ambiguous": 0}
    assert stats["last_minute"] == {"success": 3, "transient": 1}
    assert stats["circuit"]["state"] == "open"
    assert stats["circuit"]["reason"] == "HTTP 401: token revoked"
    assert list(stats["workers"]) == ["worker-a@host-1"]
    assert stats["totals"]["succeeded"] == 3
    if hasattr(RateLimiter, "snapshot"):  # worker/ratelimit.py provides its state
        assert stats["limiter"][0]["scope"] == "token"
    else:
        assert stats["limiter"] is None


def test_stats_text_shows_one_row_per_concern(busy):
    result = run(busy, "stats")

    assert result.exit_code == 0, result.output
    rows = {line.split("  ")[1].strip(): line for line in result.output.splitlines()[1:]}
    assert "2 " in rows[f"queue {busy.queue}"] and "in 1 message" in rows[f"queue {busy.queue}"]
    assert "permanent=2" in rows["dead letters"] and "expired=1" in rows["dead letters"]
    assert "success=3" in rows["sends, last 60 s"]
    assert "OPEN" in rows["circuit"] and "token revoked" in rows["circuit"]
    assert "worker-a@host-1" in rows["workers live"]
    if hasattr(RateLimiter, "snapshot"):
        assert "token" in rows["limiter"] and "/s of" in rows["limiter"]


def test_stats_watch_refreshes_the_given_number_of_times(busy):
    result = run(busy, "stats", "--json", "--watch", "--interval", "0", "--count", "3")

    assert result.exit_code == 0, result.output
    assert [json.loads(line)["queue"]["depth"] for line in result.output.splitlines()] == [2] * 3


def test_health_is_ok_with_redis_and_needs_a_heartbeat_only_with_worker(
        settings: Settings, redis_client: redis.Redis):
    plain = run(settings, "health")
    no_worker = run(settings, "health", "--worker")
    beat(redis_client, Keys(settings.key_prefix), "celery@box-7", time.time())
    with_worker = run(settings, "health", "--worker")
    elsewhere = run(settings, "health", "--worker", "--node", "*@box-8")

    assert (plain.exit_code, no_worker.exit_code) == (0, 1)
    assert (with_worker.exit_code, elsewhere.exit_code) == (0, 1)
    assert no_worker.output.startswith("unhealthy: no live worker")
    assert "celery@box-7" in with_worker.output
    for result in (plain, no_worker, with_worker, elsewhere):
        assert result.output.count("\n") == 1  # one line, for a health-check log


def test_health_says_redis_is_unavailable_in_one_line_and_exits_3():
    settings = Settings(redis_url=f"redis://:hunter2@127.0.0.1:{free_port()}/0")

    result = run(settings, "health")

    assert result.exit_code == 3
    assert result.stderr.startswith("notify-relay: redis at 127.0.0.1:")
    assert "is unavailable" in result.stderr and result.stdout == ""
    assert "hunter2" not in result.output and result.output.count("\n") == 1


def test_a_stale_heartbeat_is_not_a_live_worker(settings: Settings, redis_client: redis.Redis):
    beat(redis_client, Keys(settings.key_prefix), "celery@gone", time.time() - 60)

    assert run(settings, "health", "--worker").exit_code == 1


def test_a_long_queue_is_estimated_from_both_ends(settings: Settings, redis_client: redis.Redis):
    from producers.message import batch_message, task_message
    from worker.store.stats import EXACT_UP_TO, queued_jobs

    key = Keys(settings.key_prefix).queue(settings.queue)
    jobs = [Job.new(example(), max_age_s=60) for _ in range(3)]
    batch, single = batch_message(jobs, settings.queue, "t"), task_message(jobs[0], settings.queue)
    redis_client.rpush(key, *([batch, single] * 10))
    assert queued_jobs(redis_client, key) == {"depth": 40, "messages": 20, "estimated": False}
    redis_client.rpush(key, *([batch, single] * EXACT_UP_TO))
    counted = queued_jobs(redis_client, key)
    messages = 2 * (EXACT_UP_TO + 10)
    assert counted == {"depth": 2 * messages, "messages": messages, "estimated": True}
