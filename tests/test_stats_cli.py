"""`notify-relay stats` and `notify-relay health` read a known state out of a real Redis.

The state is written through the owning modules (Producer, RetryPark, DeadLetterStore,
Metrics, Circuit, the heartbeat), not by hand, so these tests break if a reader and its
writer drift apart.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
import tty
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from click.testing import CliRunner, Result

from notify_relay.cli import cli
from notify_relay.cli.ops import command_argv
from notify_relay.processes import free_port
from producers import Producer
from producers.enqueue import ENQUEUE, Enqueuer
from producers.job import Job
from producers.keys import Keys
from producers.outcomes import Attempt, DeadReason
from producers.settings import Settings
from tests.conftest import ROOT
from tests.integration.helpers import example, handed_out
from worker.delivery import Action, deliver
from worker.runtime import Runtime
from worker.store import Stores
from worker.store.circuit import Circuit
from worker.store.heartbeat import beat
from worker.store.metrics import Metrics


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=settings.to_env(), catch_exceptions=False)


@pytest.fixture
def busy(settings: Settings, redis_client: redis.Redis, producer: Producer) -> Settings:
    """3 waiting (1 urgent), 1 parked, 3 dead (2 permanent, 1 expired), 4 recent sends,
    the circuit open, one worker beating."""
    stores, now = Stores.build(settings, redis_client), time.time()
    doomed = producer.enqueue_many([example() for _ in range(4)])
    items = {item.job_id: item for item in handed_out(stores)}
    for number, job_id in enumerate(doomed):
        claim = stores.claims.claim(items[job_id], owner="w", lease_s=10)
        if number == 0:
            stores.claims.retry(claim.job, "w", Attempt(1, now, 5.0, "transient", 503),
                                now + 30, spend=True)
        else:
            reasons = [DeadReason.PERMANENT, DeadReason.PERMANENT, DeadReason.EXPIRED]
            reason = reasons[number - 1]
            stores.claims.bury(claim.job, "w", None, reason, "HTTP 400", now)
    producer.enqueue(example(application="OTP-00001"), priority="urgent")
    producer.enqueue_many([example(), example()])
    metrics = Metrics(redis_client, Keys(settings.key_prefix))
    for failure_class in ("success", "success", "success", "transient"):
        metrics.attempt(failure_class, 0.05)
    metrics.count("succeeded", amount=3)
    # 3 messages (Flower's tasks) carried those 4 jobs: 2 succeeded, 1 failed (one dead)
    metrics.count("messages", amount=3)
    metrics.count("message_jobs", amount=4)
    metrics.count("message_states", "succeeded", amount=2)
    metrics.count("message_states", "failed")
    Circuit(redis_client, Keys(settings.key_prefix), 10).trip("HTTP 401: token revoked")
    beat(redis_client, Keys(settings.key_prefix), "worker-a@host-1", now)
    return settings


def test_stats_json_reports_waiting_retries_dead_letters_sends_circuit_and_workers(busy):
    result = run(busy, "stats", "--json")

    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    waiting = stats["waiting"]
    assert waiting["total"] == 3
    assert waiting["by_priority"]["urgent"]["jobs"] == 1
    assert waiting["by_priority"]["normal"]["jobs"] == 2
    assert 0 <= waiting["by_priority"]["normal"]["oldest_age_s"] < 60
    assert waiting["top_applications"][0] == {"application": "ABCDE-12345",
                                              "priority": "normal", "waiting": 2}
    assert stats["share_last_minute"] == {"ABCDE-12345": 4}
    assert stats["queue"] == {"name": busy.queue, "depth": 0, "messages": 0}
    assert stats["retries"]["parked"] == 1 and 25 < stats["retries"]["next_due_in_s"] <= 30
    assert stats["dead_letters"]["total"] == 3
    assert stats["dead_letters"]["by_reason"] == {"permanent": 2, "expired": 1,
                                                  "max_attempts": 0, "ambiguous": 0}
    assert stats["last_minute"] == {"success": 3, "transient": 1}
    hour = stats["sends_per_minute"]
    assert len(hour) == 60 and hour[-1]["minute"] <= stats["time"] < hour[-1]["minute"] + 60
    assert [m["minute"] - hour[0]["minute"] for m in hour] == list(range(0, 3600, 60))
    recent = Counter(hour[-1]["sends"]) + Counter(hour[-2]["sends"])  # a minute may turn
    assert recent == {"success": 3, "transient": 1}
    assert stats["circuit"]["state"] == "open"
    assert stats["circuit"]["reason"] == "HTTP 401: token revoked"
    assert list(stats["workers"]) == ["worker-a@host-1"]
    assert stats["totals"]["succeeded"] == 3
    assert stats["messages"] == {"taken": 3, "jobs": 4, "succeeded": 2, "failed": 1,
                                 "retried": 0, "rejected": 0}
    assert stats["limiter"][0]["scope"] == "token"


def test_stats_text_shows_one_row_per_concern(busy):
    result = run(busy, "stats")

    assert result.exit_code == 0, result.output
    rows = {line.split("  ")[1].strip(): line for line in result.output.splitlines()[1:]}
    assert "urgent=1" in rows["waiting"] and "normal=2 (oldest" in rows["waiting"]
    assert "ABCDE-12345:normal=2" in rows["top applications"]
    assert "permanent=2" in rows["dead letters"] and "expired=1" in rows["dead letters"]
    assert "success=3" in rows["sends, last 60 s"]
    assert "success=3" in rows["sends, last hour"]
    assert "ABCDE-12345=4" in rows["share by app"]
    assert "OPEN" in rows["circuit"] and "token revoked" in rows["circuit"]
    assert "worker-a@host-1" in rows["workers live"]
    assert "token" in rows["limiter"] and "/s of" in rows["limiter"]
    assert "succeeded=3" in rows["jobs, all time"]
    messages = rows["messages, all time"].split()
    assert messages[3:] == ["3", "failed=1", "rejected=0", "retried=0", "succeeded=2",
                            "carrying", "4", "jobs", "(Flower", "counts", "messages)"]


def test_stats_watch_refreshes_the_given_number_of_times(busy):
    result = run(busy, "stats", "--json", "--watch", "--interval", "0", "--count", "3")

    assert result.exit_code == 0, result.output
    assert [json.loads(line)["waiting"]["total"] for line in result.output.splitlines()] == [3] * 3


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


def test_stats_reads_a_large_backlog_per_application_not_per_job(
        settings: Settings, producer: Producer):
    producer.enqueue_many([example(application=f"APP-{n % 3}") for n in range(3000)],
                          priority="bulk")
    stats = json.loads(run(settings, "stats", "--json").output)
    assert stats["waiting"]["by_priority"]["bulk"]["jobs"] == 3000
    assert stats["waiting"]["applications"] == 3


# --- L3: what the CLI prints from outside reaches a terminal escaped ---

#: Colours the terminal red, and starts a forged row.
HOSTILE = "\x1b[31m\r\nforged row"
#: HOSTILE as the log lines write it (worker/logs.py).
ESCAPED = "\\u001b[31m\\r\\nforged row"


def on_a_terminal(settings: Settings, *args: str, timeout: float = 30) -> str:
    """What `notify-relay ARGS` writes to a pseudo-terminal, as an operator sees it. Not a
    pipe: click strips colour codes from output that is not a terminal (CliRunner's too),
    which would hide ESC from the test but not from the operator."""
    leader, follower = os.openpty()
    tty.setraw(follower)  # no \n -> \r\n translation: the bytes exactly as written
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command_argv(*args), env=env, stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower)
    os.close(follower)
    try:
        output = b"".join(_read_until_closed(leader, time.monotonic() + timeout))
    finally:
        os.close(leader)
        code = proc.wait(timeout)
    assert code == 0, output
    return output.decode()


def _read_until_closed(fd: int, deadline: float) -> Iterator[bytes]:
    while select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the command closed the terminal (it exited)
            return
        if not chunk:
            return
        yield chunk
    raise TimeoutError("the command kept the terminal open")


def test_dead_list_escapes_a_hostile_job_id_application_and_error_text(
        settings: Settings, redis_client: redis.Redis, emulator_client):
    """A foreign message can name its job anything, the endpoint's answer can say anything
    (here a 400 whose message holds ESC and CR LF), and a record written before application
    codes were checked (M3) can hold any code: the dead-letter row stays one row, no colour."""
    emulator_client.script({"kind": "respond", "status": 400, "count": 1,
                            "body": {"code": 3, "message": f"refused {HOSTILE}"}})
    job = replace(Job.new(example(application=f"APP{HOSTILE}"), max_age_s=60),
                  job_id=f"job{HOSTILE}")
    call = Enqueuer(settings).adopt(job.to_dict())  # as tasks._adopt, minus its validation
    ENQUEUE(redis_client, call.keys, call.args)
    runtime = Runtime.build(settings)
    try:
        [item] = handed_out(runtime.stores)
        assert deliver(item, runtime).action is Action.DEAD
    finally:
        runtime.close()

    listed = on_a_terminal(settings, "dead", "list")
    replayed = on_a_terminal(settings, "dead", "replay", "--all")

    assert "\x1b" not in listed + replayed and "\r" not in listed + replayed
    [row] = listed.splitlines()
    assert f"job{ESCAPED}" in row and f"APP{ESCAPED}" in row
    assert row.endswith(f"refused {ESCAPED}")
    assert f"replayed job{ESCAPED}\n" in replayed


def test_stats_escapes_the_circuit_reason_a_401_body_carries(
        settings: Settings, producer: Producer, emulator_client):
    """Application codes are checked at enqueue, but the 401's text that opens the
    circuit comes from the endpoint, and `stats` shows it."""
    emulator_client.script({"kind": "respond", "status": 401, "count": 1,
                            "body": {"code": 16, "message": f"revoked {HOSTILE}"}})
    producer.enqueue(example())
    runtime = Runtime.build(settings)
    try:
        [item] = handed_out(runtime.stores)
        assert deliver(item, runtime).action is Action.RETRY
    finally:
        runtime.close()

    shown = on_a_terminal(settings, "stats")

    assert "\x1b" not in shown and "\r" not in shown
    [circuit] = [line for line in shown.splitlines() if line.strip().startswith("circuit")]
    assert "OPEN" in circuit and circuit.endswith(f"revoked {ESCAPED}")
