"""Bugs the fault scenarios found, each pinned by a fast, deterministic test.

1. Redis crash: a recording transaction applied twice logged its attempt twice. The
   worker's Redis client re-sends a transaction whose reply was lost (worker/runtime.py
   rides out a Redis restart that way); when Redis had applied the first send before it
   died, the same attempt was appended again ("succeeded with 2 success attempts" for one
   POST; in the run's AOF the same MULTI/RPUSH/HSET/EXEC before and after the restart).

2. SIGKILL every few seconds: a job was lost in `sending`. Worker A died mid-send; worker
   B took over (the claim recorded "worker lost" and moved the count from 0 to 1) and died
   mid-send too. B's message still said 0, so when it came back the claim called it a
   stale copy and dropped it: nothing was left to finish the job.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from notify_relay.processes import free_port
from producers.job import Job
from producers.keys import Keys
from producers.outcomes import Attempt, OutcomeStore, Status
from producers.scripts import execute
from tests.faults.cluster import RedisServer
from tests.faults.runner import probe_request
from worker.store.claims import ClaimStore

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
def store(client: redis.Redis) -> ClaimStore:
    return ClaimStore(client, Keys("regress:"), ttl_s=60)


@pytest.fixture
def outcomes(client: redis.Redis) -> OutcomeStore:
    return OutcomeStore(client, Keys("regress:"))


def record(client: redis.Redis, store: ClaimStore, job: Job, attempt: Attempt,
           status: Status) -> None:
    pipe = client.pipeline()  # a MULTI/EXEC transaction, as delivery.py builds it
    store.record(pipe, job, attempt, status)
    execute(pipe)


def test_a_recording_applied_twice_logs_its_attempt_once(
        client: redis.Redis, store: ClaimStore, outcomes: OutcomeStore) -> None:
    job = Job.new(probe_request("replay"), max_age_s=60)
    failed = Attempt(number=1, started_at=time.time(), duration_ms=5.0, outcome="transient",
                     http_status=503)
    sent = Attempt(number=2, started_at=time.time(), duration_ms=5.0, outcome="success",
                   http_status=200)

    record(client, store, job, failed, Status.RETRYING)
    record(client, store, job.next(spend=True), sent, Status.SUCCEEDED)
    record(client, store, job.next(spend=True), sent, Status.SUCCEEDED)  # the re-send

    outcome = outcomes.read(job.job_id)
    assert outcome is not None
    assert [a["number"] for a in outcome["attempts"]] == [1, 2]
    assert (outcome["status"], outcome["attempt_count"]) == ("succeeded", 2)
    assert 0 < client.pttl(Keys("regress:").attempts(job.job_id)) <= 60_000


def test_a_job_whose_takeover_holder_dies_too_is_taken_over_again(
        store: ClaimStore, outcomes: OutcomeStore) -> None:
    message = Job.new(probe_request("takeover"), max_age_s=60)  # attempt 0, all copies
    t = time.time()

    assert store.claim(message, owner="A", lease_s=LEASE_S, now=t).result == "claimed"
    b = store.claim(message, owner="B", lease_s=LEASE_S, now=t + LEASE_S + 1)  # A died
    assert (b.result, b.abandoned) == ("claimed", True)
    c = store.claim(message, owner="C", lease_s=LEASE_S, now=t + 2 * LEASE_S + 2)  # B died
    assert (c.result, c.abandoned) == ("claimed", True)  # was: stale, and the job lost
    assert (b.attempts, c.attempts) == (1, 2)

    # While C's lease runs, an old copy is still stale, and C re-running its claim
    # script (a reply lost to a dropped connection) still holds the job at its count.
    assert store.claim(message, owner="D", lease_s=LEASE_S, now=t + 2 * LEASE_S + 3
                       ).result == "stale"
    again = store.claim(message, owner="C", lease_s=LEASE_S, now=t + 2 * LEASE_S + 3)
    assert (again.result, again.attempts) == ("claimed", 2)
    outcome = outcomes.read(message.job_id)
    assert outcome is not None
    assert [(a["number"], a["ambiguous"]) for a in outcome["attempts"]] == [(1, True),
                                                                             (2, True)]
