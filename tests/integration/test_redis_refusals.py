"""Redis refusing writes for a moment, around a delivery (security review M4, M13).

M13: a send answered while Redis is full (maxmemory, noeviction) is still recorded once
Redis takes writes again, as the success it was: the job is not sent a second time.
M4: a Redis error after the claim and before the POST gives the claim back (nothing was
sent: no attempt is logged or spent) instead of leaving it to run out.
"""

from __future__ import annotations

import pytest
import redis

from notify_relay.processes import wait_until
from producers import Producer
from tests.integration.helpers import example, handed_out
from tests.private_redis import PrivateRedis
from worker.delivery import deliver
from worker.runtime import Runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def private(tmp_path):
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def oom_refusals(client: redis.Redis) -> int:
    stat = client.info("errorstats").get("errorstat_OOM", {})
    return int(stat.get("count", 0)) if isinstance(stat, dict) else 0


def test_a_success_answered_while_redis_is_full_is_recorded_once_it_is_not(
        private, settings, start_worker, emulator_client):
    # A long lease: the worker's Redis client rides out a refusal for up to a third of the
    # slack between the longest send and the lease (worker/runtime.py).
    roomy = settings.replace(redis_url=private.url, visibility_timeout_s=60.0)
    emulator_client.set_latency(1000)
    start_worker(settings_override=roomy)
    producer = Producer(settings=roomy)
    admin = private.client()
    try:
        job_id = producer.enqueue(example())
        [request] = emulator_client.wait_for_requests(1, timeout=20)  # the POST is open
        admin.config_set("maxmemory", "1")  # every write refused from now on
        before = oom_refusals(admin)
        wait_until(lambda: emulator_client.requests()[0]["status"] == 200, 10, "the answer")
        wait_until(lambda: oom_refusals(admin) > before, 10, "a refused write")
        admin.config_set("maxmemory", "0")
        outcome = producer.wait(job_id, timeout=30)
    finally:
        admin.config_set("maxmemory", "0")
        admin.close()
        producer.close()
    assert outcome["status"] == "succeeded"
    assert [a["outcome"] for a in outcome["attempts"]] == ["success"]
    assert len(emulator_client.requests()) == 1


def test_a_redis_error_before_the_post_gives_the_claim_back_unspent(
        settings, redis_client, producer, emulator_client, monkeypatch):
    rt = Runtime.build(settings)
    try:
        job_id = producer.enqueue(example())
        [item] = handed_out(rt.stores)

        def redis_gone() -> bool:  # the circuit is read between the claim and the POST
            raise redis.ConnectionError("connection lost")

        monkeypatch.setattr(rt.stores.circuit, "is_open", redis_gone)
        with pytest.raises(redis.ConnectionError):
            deliver(item, rt)
    finally:
        rt.close()
    outcome = producer.outcome(job_id)
    assert (outcome["status"], outcome["attempts"]) == ("queued", [])
    assert [i.job_id for i in handed_out(rt.stores)] == [job_id]  # waiting again, at once
    assert emulator_client.requests() == []


