"""`Scenario`: push N jobs through real processes while faults are injected, then reconcile.

    scenario = Scenario(Plan("worker-sigkill"), workdir)
    scenario.every(3.0, "SIGKILL a worker", scenario.kill_next_worker, start_s=2, until_s=20)
    result = scenario.run()          # a `Reconciliation`; `result.report()` for people

A run: start Redis, the emulator and the workers; a feeder thread enqueues the jobs in
batches spread over `feed_s` (so the faults meet jobs at every stage), a fault thread runs
the schedule; the main thread polls outcomes until every job is final or the deadline
passes, then waits until no message is left anywhere a send could come from, stops the
workers and reconciles.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from notify_relay.processes import free_port
from producers import Producer, QueueError
from producers.connection import redis_client
from producers.keys import Keys
from producers.settings import Settings
from tests.faults.cluster import EmulatorProcess, RedisServer, WorkerPool
from tests.faults.reconcile import MARKER_KEY, Reconciliation, marker_of, reconcile

APPLICATION = "ABCDE-12345"
QUEUE = "notify-faults"
POLL_S = 0.25
#: A message is out of every list only between a worker's pop and its `unacked` write
#: (milliseconds); nothing left for this long means nothing is coming.
STUCK_S = 2.0
#: A fault waits at most this long past its time for a job not yet final to meet.
WORK_WAIT_S = 2.0
#: How long a kill waits for a worker with a send open at the endpoint.
KILL_WAIT_S = 10.0
#: Requests re-read on each look for open sends (every older one has been answered).
OPEN_WINDOW = 400


def worker_settings(redis_url: str, base_url: str, token: str, prefix: str,
                    concurrency: int) -> Settings:
    """Short timeouts so that a scenario fits in seconds, and a budget faults cannot exhaust.

    max_attempts 50: a 20 s outage retried with full-jitter backoff capped at 2 s (mean 1 s
    once capped) costs ~25 attempts, ~33 for the unluckiest of 1,000 jobs. A scenario that
    dead-letters a job as max_attempts has therefore found something, not bad luck.
    """
    return Settings(
        redis_url=redis_url, api_token=token, base_url=base_url, key_prefix=prefix,
        queue=QUEUE, rate_limit="10000/s", max_attempts=50, backoff_base_s=0.2,
        backoff_max_s=2.0, max_age_s=3600.0, connect_timeout_s=1.0, read_timeout_s=2.0,
        visibility_timeout_s=6.0, circuit_probe_interval_s=1.0, concurrency=concurrency,
    )


@dataclass
class Plan:
    name: str
    jobs: int = 1000
    workers: int = 3
    concurrency: int = 12
    feed_s: float = 12.0  # the jobs are enqueued in batches spread over this long
    batches: int = 40
    latency_ms: float = 50.0  # every send takes this long: kills catch sends in flight
    emulator_faults: list[dict[str, Any]] = field(default_factory=list)
    deadline_s: float = 120.0  # from the first enqueue until every job must be final
    quiesce_s: float = 30.0  # then until no message is left that could cause a send


@dataclass
class Injection:
    at_s: float
    name: str
    action: Callable[[], None]
    done_at_s: float | None = None
    pending: int = 0  # jobs enqueued but not final when it was injected

    def describe(self) -> str:
        return f"{self.name} @{self.done_at_s:.1f}s ({self.pending} jobs in flight)"


class Scenario:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        token = f"fault-token-{secrets.token_hex(8)}"
        self.prefix = f"nrfault-{secrets.token_hex(3)}:"
        self.redis = RedisServer(free_port(), workdir / "redis", workdir / "logs")
        self.emulator = EmulatorProcess(free_port(), token, workdir / "logs", plan.latency_ms)
        self.settings = worker_settings(self.redis.url, self.emulator.url, token, self.prefix,
                                        plan.concurrency)
        self.workers = WorkerPool(self.settings, plan.workers, workdir / "logs")
        self.keys = Keys(self.prefix)
        self.schedule: list[Injection] = []
        self.notes: list[str] = []
        self.failures: list[str] = []  # the harness could not do what the plan says
        self.jobs: dict[str, str] = {}  # marker -> job id
        self.final: set[str] = set()
        self._t0 = 0.0
        self._next_worker = 0
        self._open_cursor = 0
        #: jobs a SIGKILL or a cut caught mid-send (kill_a_worker_mid_send, hosts.py cut_mid_send)
        self.caught: list[str] = []
        self.records: dict[str, dict[str, Any] | None] = {}  # job id -> outcome, reconciled
        self._stop = threading.Event()

    # --- building the fault schedule ---

    def at(self, at_s: float, name: str, action: Callable[[], None]) -> None:
        self.schedule.append(Injection(at_s, name, action))

    def every(self, period_s: float, name: str, action: Callable[[], None], *,
              start_s: float, until_s: float) -> None:
        at_s = start_s
        while at_s <= until_s:
            self.at(at_s, name, action)
            at_s += period_s

    def kill_next_worker(self) -> None:
        """SIGKILL the workers in turn, and start a fresh one in the killed one's place."""
        index = self._next_worker % self.plan.workers
        self._next_worker += 1
        self.workers.kill_and_restart(index)

    def kill_a_worker_mid_send(self) -> None:
        """SIGKILL a worker while POSTs it made are open at the endpoint; start a new one.

        Waits (up to KILL_WAIT_S) until some worker has sends the endpoint has received
        and not yet answered, kills the one with the most, then checks what the kill
        caught: jobs still `sending` under the dead process's claim, their POST at the
        endpoint. Those must each end with a "worker lost" attempt (`caught`).
        """
        client = redis_client(self.settings, socket_timeout=5)
        try:
            deadline = time.monotonic() + KILL_WAIT_S
            while time.monotonic() < deadline and not self._stop.is_set():
                open_by_worker = self._open_sends_by_worker(client)
                if open_by_worker:
                    index = max(open_by_worker, key=lambda i: len(open_by_worker[i]))
                    pid = self.workers.pid(index)
                    self.workers.kill_and_restart(index)
                    caught = self._still_held_by(client, open_by_worker[index], pid)
                    self.notes.append(f"SIGKILL of worker {index} caught {len(caught)} "
                                      f"job(s) mid-send")
                    self.caught += caught
                    return
                time.sleep(0.01)
        finally:
            client.close()
        raise RuntimeError(f"no worker had a send open at the endpoint for {KILL_WAIT_S:g}s")

    def _open_sends_by_worker(self, client: redis.Redis,
                              younger_than_s: float = float("inf")) -> dict[int, list[str]]:
        """Worker index -> job ids whose POST the endpoint holds unanswered right now (and
        received less than `younger_than_s` ago: still open a moment from now)."""
        records = self.emulator.client.requests(since=max(0, self._open_cursor))
        now, open_jobs = time.time(), []
        for record in records:
            if record["status"] is None and record["path"].endswith("/notify") and \
                    now - record["time"] < younger_than_s:
                job_id = self.jobs.get(marker_of(record["body"]) or "")
                if job_id:
                    open_jobs.append(job_id)
        if records:  # everything older than a few hundred requests has been answered
            self._open_cursor = max(0, records[-1]["seq"] - OPEN_WINDOW)
        pids = {self.workers.pid(i): i for i in range(self.plan.workers)}
        by_worker: dict[int, list[str]] = {}
        for job_id, pid in zip(open_jobs, self._holder_pids(client, open_jobs), strict=True):
            if pid in pids:
                by_worker.setdefault(pids[pid], []).append(job_id)
        return by_worker

    def _holder_pids(self, client: redis.Redis, job_ids: list[str]) -> list[int | None]:
        """The pid in each job's live claim (`lease_owner` is host:pid:nonce), if sending."""
        pipe = client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self.keys.outcome(job_id), "status", "lease_owner")
        pids: list[int | None] = []
        for reply in pipe.execute(raise_on_error=False):
            if isinstance(reply, Exception):  # a final record (one string): not held
                pids.append(None)
                continue
            status, owner = reply
            held = status == b"sending" and owner
            pids.append(int(owner.decode().rsplit(":", 2)[1]) if held else None)
        return pids

    def _still_held_by(self, client: redis.Redis, job_ids: list[str],
                       pid: int | None) -> list[str]:
        """After the kill: the jobs still claimed by the dead process (caught mid-send)."""
        return [job_id for job_id, holder in zip(job_ids, self._holder_pids(client, job_ids),
                                                 strict=True) if holder == pid]

    def redis_outage(self, at_s: float, for_s: float) -> None:
        self.at(at_s, "crash Redis (SIGKILL)", self.redis.crash)
        self.at(at_s + for_s, "restart Redis from its AOF", self.redis.start)

    def endpoint_outage(self, at_s: float, for_s: float) -> None:
        self.at(at_s, "stop the endpoint", self.emulator.stop)
        self.at(at_s + for_s, "restart the endpoint",
                lambda: self.emulator.start(self.plan.emulator_faults))

    @property
    def injected(self) -> list[Injection]:
        done = [i for i in self.schedule if i.done_at_s is not None]
        return sorted(done, key=lambda i: i.done_at_s or 0.0)

    # --- running ---

    def run(self) -> Reconciliation:
        try:
            self._start()
            self._t0 = time.monotonic()
            threads = [threading.Thread(target=self._feed, name="feeder", daemon=True),
                       threading.Thread(target=self._inject, name="faults", daemon=True)]
            for thread in threads:
                thread.start()
            self._wait_final(threads)
            self._quiesce()
            elapsed = time.monotonic() - self._t0
            self.workers.stop_all()
            result = self._reconcile()
            result.elapsed_s = elapsed
            return result
        finally:
            self._stop.set()
            self.workers.stop_all()
            self.emulator.shutdown()
            self.redis.stop()

    def _start(self) -> None:
        self.redis.start()
        self.emulator.start(self.plan.emulator_faults)
        self.workers.start_all()

    def _elapsed(self) -> float:
        return time.monotonic() - self._t0

    def _wait_for(self, at_s: float) -> bool:
        """Wait until `at_s` into the run; False if the run is being torn down."""
        return not self._stop.wait(max(0.0, at_s - self._elapsed()))

    def _inject(self) -> None:
        for injection in sorted(self.schedule, key=lambda i: i.at_s):
            if not self._wait_for(injection.at_s) or not self._wait_for_work():
                return
            injection.pending = len(self.jobs) - len(self.final)
            injection.done_at_s = self._elapsed()
            try:
                injection.action()
            except Exception as exc:  # the run goes on; the report and the test say so
                self.failures.append(f"injection {injection.name!r} failed: {exc!r}")

    def _wait_for_work(self) -> bool:
        """A fault that meets no job proves nothing: between two batches of the feed every
        job may be final (it was, once in CI), so wait up to WORK_WAIT_S for one that is not.
        False if the run is being torn down."""
        until = self._elapsed() + WORK_WAIT_S
        while len(self.jobs) == len(self.final) and self._elapsed() < until:
            if self._stop.wait(0.005):
                return False
        return True

    def _feed(self) -> None:
        producer = Producer(settings=self.settings)
        try:
            markers = [f"{self.plan.name}-{i:05d}" for i in range(self.plan.jobs)]
            size = -(-self.plan.jobs // self.plan.batches)
            for n, start in enumerate(range(0, self.plan.jobs, size)):
                if not self._wait_for(n * self.plan.feed_s / self.plan.batches):
                    return
                self._enqueue(producer, markers[start:start + size])
        finally:
            producer.close()

    def _enqueue(self, producer: Producer, markers: list[str]) -> None:
        """Enqueue one batch, again if Redis is down: the marker is the idempotency key, so
        a batch that was half written before the error is not enqueued twice."""
        requests = [probe_request(marker) for marker in markers]
        failures = 0
        while not self._stop.is_set():
            try:
                ids = producer.enqueue_many(requests, idempotency_keys=markers)
                self.jobs.update(zip(markers, ids, strict=True))
                return
            except QueueError:
                failures += 1
                if failures == 1:
                    self.notes.append(f"enqueue of {markers[0]}.. refused by Redis at "
                                      f"{self._elapsed():.1f}s; retried with the same keys")
                self._stop.wait(POLL_S)

    def _wait_final(self, threads: list[threading.Thread]) -> None:
        """Until every job is final, or some are provably stuck, or the deadline."""
        client = redis_client(self.settings, socket_timeout=5)
        quiet_since: float | None = None
        try:
            while self._elapsed() < self.plan.deadline_s:
                self._poll_final(client)
                self.workers.revive()
                if any(t.is_alive() for t in threads):
                    quiet_since = None
                elif len(self.final) == len(self.jobs):
                    return
                else:
                    quiet_since = self._quiet_since(client, quiet_since)
                    if quiet_since is not None and self._elapsed() - quiet_since > STUCK_S:
                        self.notes.append(
                            f"{len(self.jobs) - len(self.final)} jobs not final, and no "
                            f"message left to make them so for {STUCK_S:g}s: stopped waiting")
                        return
                self._stop.wait(POLL_S)
            self.notes.append(f"deadline of {self.plan.deadline_s:g}s passed with "
                              f"{len(self.jobs) - len(self.final)} jobs not final")
        finally:
            client.close()

    def _quiet_since(self, client: redis.Redis, since: float | None) -> float | None:
        """When nothing was last left that could send (queued, parked, unacked); None if
        something is. A job not final by then has no message anywhere: it is lost."""
        try:
            if any(self.residue(client).values()):
                return None
        except redis.RedisError:
            return None
        return self._elapsed() if since is None else since

    def _poll_final(self, client: redis.Redis) -> None:
        pending = [job_id for job_id in list(self.jobs.values()) if job_id not in self.final]
        try:
            statuses = self._statuses(client, pending)
        except redis.RedisError:
            return  # Redis is down on purpose; look again at the next poll
        self.final.update(j for j, s in zip(pending, statuses, strict=True)
                          if s in (b"succeeded", b"dead"))

    def _statuses(self, client: redis.Redis, job_ids: list[str]) -> list[bytes | None]:
        """Each job's status: a final record is one string (WRONGTYPE for HGET), whose
        status is its second element (producers/outcomes.py)."""
        pipe = client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(self.keys.outcome(job_id), "status")
        statuses = []
        for job_id, reply in zip(job_ids, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(reply, redis.ResponseError) and "WRONGTYPE" in str(reply):
                raw = client.get(self.keys.outcome(job_id)) or b"[0, null]"
                reply = json.loads(raw.split(b"\n")[0])[1].encode()
            elif isinstance(reply, Exception):
                raise reply
            statuses.append(reply)
        return statuses

    def residue(self, client: redis.Redis) -> dict[str, int]:
        """What could still lead to a send: jobs waiting, messages queued, parked or held
        unacked, and jobs the watchdog still watches (it puts a job whose message vanished
        back to wait, after NOTIFY_VISIBILITY_TIMEOUT x 2: worker/store/watchdog.py)."""
        return {
            "waiting": sum(int(client.llen(key)) for key in self._waiting_lists(client)),
            "queued": int(client.llen(self.keys.queue(QUEUE))),
            "parked": int(client.zcard(self.keys.retries)),
            "unacked": int(client.hlen(f"{self.prefix}unacked")),
            "watched": int(client.zcard(self.keys.watch)),
        }

    def _waiting_lists(self, client: redis.Redis) -> list[bytes]:
        return list(client.scan_iter(f"{self.prefix}wait:*"))

    def holders(self, client: redis.Redis) -> dict[str, str]:
        """Job id -> where something that could still send it is (waiting, queued,
        parked, unacked, watched)."""
        held: dict[str, str] = {}
        messages = [("queued", client.lrange(self.keys.queue(QUEUE), 0, -1)),
                    # kombu keeps [message, exchange, routing key] per unacked delivery
                    ("unacked", [json.dumps(json.loads(v)[0])
                                 for v in client.hvals(f"{self.prefix}unacked")])]
        for place, found in messages:
            for message in found:
                for job_id in jobs_of(message):
                    held.setdefault(job_id, place)
        ids = [("parked", client.zrange(self.keys.retries, 0, -1)),
               ("watched", client.zrange(self.keys.watch, 0, -1)),
               ("waiting", [i for key in self._waiting_lists(client)
                            for i in client.lrange(key, 0, -1)])]
        for place, found in ids:
            for job_id in found:
                held.setdefault(job_id.decode(), place)
        return held

    def _quiesce(self) -> None:
        """Every job is final; wait until nothing is left that could send once more, so
        that a POST after a job's final state would be in the log we reconcile."""
        client = redis_client(self.settings, socket_timeout=5)
        deadline = time.monotonic() + self.plan.quiesce_s
        try:
            while any(self.residue(client).values()):
                if time.monotonic() > deadline:
                    self.notes.append(f"not quiet after {self.plan.quiesce_s:g}s: "
                                      f"{self.residue(client)}")
                    return
                self.workers.revive()
                self._stop.wait(POLL_S)
        finally:
            client.close()

    def _reconcile(self) -> Reconciliation:
        # Here, not at the top: `worker` builds its Celery app on import, which a test
        # module that only fuzzes the producer has no need for.
        from worker.store.deadletters import DeadLetterStore

        producer = Producer(settings=self.settings)
        try:
            self.records = records = {job_id: producer.outcome(job_id)
                                      for job_id in self.jobs.values()}
        finally:
            producer.close()
        client = redis_client(self.settings)
        try:
            dead = list(DeadLetterStore(client, self.keys, self.settings).iter_newest())
            held = self.holders(client)
        finally:
            client.close()
        posts = [p for p in self.emulator.collect() if p["path"].endswith("/notify")]
        result = reconcile(self.plan.name, self.jobs, records, posts, dead, held)
        if len(self.jobs) < self.plan.jobs:
            self.notes.append(f"only {len(self.jobs)} of {self.plan.jobs} jobs were enqueued")
        result.injected = [i.describe() for i in self.injected]
        result.notes = self.notes + [f"supervisor restarted {e}" for e in self.workers.exits]
        result.harness_failures = self.failures
        return result


def probe_request(marker: str) -> dict[str, Any]:
    """A valid transactional push whose body names its job: the marker in custom_data."""
    message = {"title": "Fault drill", "body": f"probe {marker}"}
    return {"transactional": {
        "application": APPLICATION,
        "platforms": ["IOS", "ANDROID"],
        "users": {"list": [f"user-{marker}"]},
        "payload": {
            "content": {"localized_content": {"default": {"ios": message, "android": message}}},
            "custom_data": {MARKER_KEY: marker},
        },
        "schedule": {"after": "0s"},
        "message_type": "MESSAGE_TYPE_TRANSACTIONAL",
    }}


def jobs_of(message: bytes | str) -> list[str]:
    """The job ids a `deliver` message carries (its body is plain JSON)."""
    envelope = json.loads(message)
    [[items], _kwargs, _embed] = json.loads(envelope["body"])
    return [str(item[0]) for item in items]
