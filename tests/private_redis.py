"""Private Redis servers in the states that make commands fail: stopped, full, read-only.

Each is a real `redis-server` on a free port with a password (`secret`), so a test can
check that no message shows it. Never the shared Redis on 6379: these are stopped, filled
and reconfigured. A test module starts them once (module-scoped fixtures, see
`redis_states`), as the states do not change under the commands run against them.

* `stopped`: a free port nobody listens on.
* `full`: `maxmemory 1mb` under `noeviction`, written to until a write fails with OOM.
* `replica`: `replicaof` the full one with `replica-read-only yes`: reads answer, writes
  fail with READONLY.

Both running ones hold a queued job (`job_id`) and a dead letter (`dead_id`), written
before the primary was filled, so reads have something to find.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from notify_relay.processes import Service, free_port, wait_until
from producers import Producer
from producers.connection import redis_client
from producers.keys import Keys
from producers.outcomes import DeadReason
from producers.settings import Settings
from tests.integration.helpers import handed_out
from worker.store import Stores

PASSWORD = "secret"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
START_TIMEOUT_S = 20.0
#: A filler value; the server holds about 1 MB before any data, so few are needed.
FILLER = "x" * 10_000
MAX_FILLERS = 5_000


def url_for(port: int, password: str = PASSWORD) -> str:
    return f"redis://:{password}@127.0.0.1:{port}/0"


class PrivateRedis:
    """One `redis-server` of our own (no persistence), with a password."""

    def __init__(self, log_dir: Path, *args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is not installed: CI must provide it")
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.url = url_for(self.port)
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(log_dir), "--requirepass", PASSWORD,
                "--masterauth", PASSWORD, *args]
        self._service = Service(f"redis-{self.port}", argv, os.environ, log_dir)
        wait_until(self._answers, START_TIMEOUT_S, f"redis on {self.port} to answer")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def _answers(self) -> bool:
        with self.client() as client:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

    def stop(self) -> None:
        self._service.stop(timeout=10)


@dataclass
class RedisStates:
    stopped_url: str
    full: PrivateRedis
    replica: PrivateRedis
    job_id: str
    dead_id: str

    def url(self, state: str) -> str:
        """The REDIS_URL of a state: stopped, full, replica or bad_login (the full one's)."""
        return {"stopped": self.stopped_url, "full": self.full.url,
                "replica": self.replica.url,
                "bad_login": url_for(self.full.port, "wrong")}[state]


def seed(url: str) -> tuple[str, str]:
    """A queued job and a dead letter, written through their owners: (job id, dead id)."""
    settings = Settings(redis_url=url)
    request = json.loads((EXAMPLES / "segment.json").read_text())
    producer = Producer(settings=settings)
    job_id, dead_id = producer.enqueue(request), producer.enqueue(request)
    producer.close()
    stores = Stores.build(settings, redis_client(settings))
    [item] = [i for i in handed_out(stores) if i.job_id == dead_id]
    claim = stores.claims.claim(item, owner="seed", lease_s=60)
    assert claim.job is not None
    stores.claims.bury(claim.job, "seed", None, DeadReason.PERMANENT, "HTTP 400", time.time())
    stores.redis.close()
    return job_id, dead_id


def fill(server: PrivateRedis) -> None:
    """Lower maxmemory to 1 MB and write until Redis refuses (OOM under noeviction)."""
    with server.client() as client:
        # Set only now: the seed would not fit under 1 MB either.
        client.config_set("maxmemory", "1mb")
        for index in range(MAX_FILLERS):
            try:
                client.set(f"filler:{index}", FILLER)
            except redis.exceptions.OutOfMemoryError:
                return
    raise AssertionError(f"redis on {server.port} never refused a write")


def wait_replicated(replica: PrivateRedis, dead_id: str) -> None:
    with replica.client() as client:
        def has_seed() -> bool:
            link = client.info("replication").get("master_link_status")
            entries = Keys(Settings().key_prefix).dead_entries
            return link == "up" and bool(client.hexists(entries, dead_id))
        wait_until(has_seed, START_TIMEOUT_S, f"the replica on {replica.port} to sync")


def start_states(log_dir: Path) -> Iterator[RedisStates]:
    """Start the full primary and its replica, seed, fill; stop both afterwards."""
    # Redis waits 5 s for more replicas before a diskless full sync; one is all there is.
    full = PrivateRedis(log_dir, "--maxmemory-policy", "noeviction",
                        "--repl-diskless-sync-delay", "0")
    replica = None
    try:
        job_id, dead_id = seed(full.url)
        replica = PrivateRedis(log_dir, "--replicaof", "127.0.0.1", str(full.port),
                               "--replica-read-only", "yes")
        wait_replicated(replica, dead_id)
        fill(full)
        yield RedisStates(url_for(free_port()), full, replica, job_id, dead_id)
    finally:
        for server in (replica, full):
            if server is not None:
                server.stop()
