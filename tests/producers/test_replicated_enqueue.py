"""NOTIFY_ENQUEUE_MIN_REPLICAS: an enqueue returns once that many replicas have its jobs.

Against a private primary with one replica (tests/private_redis.py): asking for 1 returns
the ids; asking for 2 (one more than there are) raises `NotReplicated` naming the job and
the count, after the job was written on the primary; repeating with the same idempotency
key gives the same id back, and is waited for again. Blocking and asyncio alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from notify_relay.processes import wait_until
from producers import AsyncProducer, NotReplicated, Producer
from producers.settings import Settings
from tests.integration.helpers import example
from tests.private_redis import PrivateRedis

TIMEOUT_S = 0.2


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    log_dir: Path = tmp_path_factory.mktemp("replicated")
    primary = PrivateRedis(log_dir, "--repl-diskless-sync-delay", "0")
    replica = PrivateRedis(log_dir, "--replicaof", "127.0.0.1", str(primary.port))
    try:
        with primary.client() as client:
            wait_until(lambda: replicates(client), 20, "the replica to confirm a write")
        yield primary
    finally:
        replica.stop()
        primary.stop()


def replicates(client: redis.Redis) -> bool:
    """The replica confirms a write to WAIT: the readiness that counts. INFO says `online`
    before it does: after a diskless sync the primary streams to it, and WAIT counts it,
    only from its first REPLCONF ACK (up to a second later; WAIT got 0 then, in a full run)."""
    client.set("nrrepl:ready", "1")
    return int(client.execute_command("WAIT", 1, 100)) >= 1


def settings_for(primary: PrivateRedis, replicas: int) -> Settings:
    return Settings(redis_url=primary.url, key_prefix="nrrepl:", enqueue_min_replicas=replicas,
                    enqueue_replica_timeout_s=TIMEOUT_S)


def test_an_enqueue_confirmed_by_the_replicas_asked_for_returns_its_ids(primary):
    producer = Producer(settings=settings_for(primary, 1))
    try:
        job_id = producer.enqueue(example("segment"))
        many = producer.enqueue_many([example("segment")] * 300)  # two script calls
        assert producer.outcome(job_id) and len(set(many)) == 300
    finally:
        producer.close()


def test_too_few_replicas_raise_not_replicated_and_a_repeat_gives_the_same_job(primary):
    producer = Producer(settings=settings_for(primary, 2))
    try:
        with pytest.raises(NotReplicated) as caught:
            producer.enqueue(example("segment"), idempotency_key="order-1")
        error = caught.value
        [job_id] = error.job_ids
        assert (error.wanted, error.acked) == (2, 1)
        assert str(error) == (
            f"redis at 127.0.0.1:{primary.port}/0 did not replicate job {job_id}: 1 of 2 "
            f"replica(s) confirmed it within {TIMEOUT_S:g}s; enqueue again with the same "
            "idempotency key (the first job's id comes back if it survived); check the "
            "replicas' link to the primary")
        assert producer.outcome(job_id)["status"] == "queued"  # written on the primary
        with pytest.raises(NotReplicated) as again:  # the repeat is waited for too
            producer.enqueue(example("segment"), idempotency_key="order-1")
        assert again.value.job_ids == (job_id,)
        relaxed = Producer(settings=settings_for(primary, 1))
        same = relaxed.enqueue(example("segment"), idempotency_key="order-1")
        assert (same, same.duplicate) == (job_id, True)
        relaxed.close()
    finally:
        producer.close()


def test_the_async_producer_waits_the_same_way_and_each_caller_hears_of_its_own_jobs(primary):
    async def main() -> None:
        async with AsyncProducer(settings=settings_for(primary, 1)) as producer:
            assert await producer.enqueue(example("segment"))
            assert len(await producer.enqueue_many([example("segment")] * 300)) == 300
        async with AsyncProducer(settings=settings_for(primary, 2)) as producer:
            # Concurrent enqueues share one script call (coalesce.py), and one WAIT.
            results = await asyncio.gather(
                *(producer.enqueue(example("segment"), idempotency_key=f"k{i}")
                  for i in range(5)), return_exceptions=True)
            assert all(isinstance(r, NotReplicated) for r in results), results
            ids = [r.job_ids for r in results]  # type: ignore[union-attr]
            assert all(len(i) == 1 for i in ids) and len(set(ids)) == 5
            with pytest.raises(NotReplicated, match="1 of 2 replica"):
                await producer.enqueue_many([example("segment")] * 300)

    asyncio.run(main())
