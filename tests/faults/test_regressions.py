"""Bugs the fault scenarios found, each pinned by a fast, deterministic test.

1. Redis crash: a recording applied twice logged its attempt twice. The worker's Redis
   client re-sends a command whose reply was lost (worker/runtime.py rides out a Redis
   restart that way); when Redis had applied the first send before it died, the same
   attempt was appended again ("succeeded with 2 success attempts" for one POST).

2. SIGKILL every few seconds: a job was lost in `sending`. Worker A died mid-send; worker
   B took over (the claim recorded "worker lost") and died mid-send too. When B's message
   came back the claim called it a stale copy and dropped it: nothing was left to finish
   the job. A takeover now keeps the dispatch number every copy carries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from notify_relay.processes import free_port
from producers import Producer
from producers.outcomes import Attempt
from producers.settings import Settings
from tests.faults.cluster import RedisServer
from tests.faults.runner import probe_request
from tests.integration.helpers import handed_out
from worker.store import Stores
from worker.store.claims import ClaimResult, RecordResult

LEASE_S = 6.0


@pytest.fixture
def client(tmp_path: Path) -> Iterator[redis.Redis]:
    server = RedisServer(free_port(), tmp_path / "data", tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()
    server.stop()


@pytest.fixture
def settings(client: redis.Redis) -> Settings:
    url = f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"
    return Settings(redis_url=url, api_token="t", key_prefix="regress:", rate_limit="1000/s")


@pytest.fixture
def stores(settings: Settings, client: redis.Redis) -> Stores:
    return Stores.build(settings, client)


def test_a_recording_applied_twice_logs_its_attempt_once(
        stores: Stores, settings: Settings) -> None:
    producer = Producer(settings=settings)
    job_id = producer.enqueue(probe_request("replay"))
    [item] = handed_out(stores)
    claim = stores.claims.claim(item, owner="w", lease_s=LEASE_S)
    assert claim.job is not None
    sent = Attempt(number=1, started_at=time.time(), duration_ms=5.0, outcome="success",
                   http_status=200)
    assert stores.claims.succeed(claim.job, "w", sent) is RecordResult.DONE
    assert stores.claims.succeed(claim.job, "w", sent) is RecordResult.DONE  # the re-send

    outcome = producer.outcome(job_id)
    assert outcome is not None
    assert [a["number"] for a in outcome["attempts"]] == [1]
    assert (outcome["status"], outcome["attempt_count"]) == ("succeeded", 1)


def test_a_job_whose_takeover_holder_dies_too_is_taken_over_again(
        stores: Stores, settings: Settings) -> None:
    producer = Producer(settings=settings)
    job_id = producer.enqueue(probe_request("takeover"))
    [message] = handed_out(stores)  # every redelivered copy carries this dispatch number
    t = time.time()

    assert stores.claims.claim(message, owner="A", lease_s=LEASE_S, now=t).result is (
        ClaimResult.CLAIMED)
    b = stores.claims.claim(message, owner="B", lease_s=LEASE_S, now=t + LEASE_S + 1)  # A died
    assert (b.result, b.abandoned) == (ClaimResult.CLAIMED, True)
    c = stores.claims.claim(message, owner="C", lease_s=LEASE_S, now=t + 2 * LEASE_S + 2)
    assert (c.result, c.abandoned) == (ClaimResult.CLAIMED, True)  # B died: not stale
    assert b.job is not None and c.job is not None
    assert (b.job.attempt, c.job.attempt) == (1, 2)

    # While C's lease runs, another copy is a duplicate, and C re-running its claim
    # script (a reply lost to a dropped connection) still holds the job at its count.
    assert stores.claims.claim(message, owner="D", lease_s=LEASE_S,
                               now=t + 2 * LEASE_S + 3).result is ClaimResult.LEASED
    again = stores.claims.claim(message, owner="C", lease_s=LEASE_S, now=t + 2 * LEASE_S + 3)
    assert again.result is ClaimResult.CLAIMED and again.job is not None
    assert again.job.attempt == 2
    outcome = producer.outcome(job_id)
    assert outcome is not None
    assert [(a["number"], a["ambiguous"]) for a in outcome["attempts"]] == [(1, True),
                                                                             (2, True)]
