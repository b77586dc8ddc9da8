"""Sentry through the real SDK transport into a local ingest endpoint.

The worker runs with SENTRY_DSN pointing at `SentryIngest`, a loopback HTTP server that
records every envelope. A worker is stopped (warm shutdown flushes the SDK) before the
events are counted, so "no event" means none was ever sent, not "none yet".
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from notify_relay.processes import wait_until
from producers import Producer
from producers.keys import Keys
from tests.conftest import ROOT
from tests.integration.helpers import example
from tests.worker.servers import FaultServer, respond
from worker.store.metrics import read_counters

pytestmark = pytest.mark.integration


class SentryIngest:
    """Stands in for `POST /api/<project>/envelope/`: keeps each decoded envelope."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = decode(raw, self.headers.get("Content-Encoding", ""))
                with ingest._lock:
                    ingest.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self._server.server_port}/1"

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            bodies = list(self.bodies)
        return [json.loads(payload) for body in bodies
                for header, payload in envelope_items(body) if header.get("type") == "event"]

    def text(self) -> str:
        with self._lock:
            return b"\n".join(self.bodies).decode("utf-8", "replace")

    def __enter__(self) -> SentryIngest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def decode(raw: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    if encoding == "br":
        import brotli  # only when the SDK found it installed

        return bytes(brotli.decompress(raw))
    return raw


def envelope_items(body: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(item header, payload) pairs of one envelope (header line, then items)."""
    _, _, rest = body.partition(b"\n")
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        header = json.loads(line)
        if header.get("length") is not None:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        yield header, payload


@pytest.fixture
def ingest() -> Iterator[SentryIngest]:
    with SentryIngest() as server:
        yield server


def sentry_worker(start_worker, ingest: SentryIngest):
    return start_worker(SENTRY_DSN=ingest.dsn, SENTRY_ENVIRONMENT="integration-test",
                        SENTRY_RELEASE="notify-relay@test")


def request_for(application: str, user_id: str) -> dict[str, Any]:
    request = example("transactional", application=application)
    request["transactional"]["users"] = {"list": [user_id]}
    return request


def test_a_permanent_failure_sends_one_tagged_event_and_a_retried_transient_failure_none(
        producer: Producer, start_worker, ingest: SentryIngest, emulator_client, api_token):
    emulator_client.script(
        {"kind": "respond", "status": 400, "count": 1, "match": {"application": "PERMA-11111"},
         "body": {"code": 3, "message": "bad platforms"}},
        {"kind": "respond", "status": 503, "count": 1, "match": {"application": "TRANS-22222"}})
    worker = sentry_worker(start_worker, ingest)
    user_id = f"user-{secrets.token_hex(6)}"

    dead_id = producer.enqueue(request_for("PERMA-11111", user_id))
    retried_id = producer.enqueue(request_for("TRANS-22222", user_id))
    assert producer.wait(dead_id, timeout=30)["status"] == "dead"
    retried = producer.wait(retried_id, timeout=30)
    assert [a["outcome"] for a in retried["attempts"]] == ["transient", "success"]
    worker.stop()  # warm shutdown flushes the SDK's queue

    [event] = ingest.events()
    assert event["tags"]["job_id"] == dead_id
    assert event["tags"]["application"] == "PERMA-11111"
    assert event["tags"]["reason"] == "permanent"
    assert (event["environment"], event["release"]) == ("integration-test", "notify-relay@test")
    assert event["contexts"]["notify"]["http_status"] == 400
    assert api_token not in ingest.text() and user_id not in ingest.text()


def test_a_batch_whose_task_fails_for_two_dead_jobs_sends_one_event_per_dead_letter_only(
        settings, start_worker, ingest: SentryIngest, emulator_client, api_token,
        redis_client):
    # The task ends in FAILURE (JobsDead, in its `throws`): sentry-sdk's Celery integration
    # must not add an event of its own for it, nor the logging integration for its log line.
    emulator_client.script({"kind": "respond", "status": 400, "match": {"application":
                            "PERMA-11111"}, "body": {"code": 3, "message": "bad platforms"}})
    batching = settings.replace(batch_size=4)
    producer = Producer(settings=batching)
    user_id = f"user-{secrets.token_hex(6)}"
    try:
        job_ids = producer.enqueue_many([request_for(app, user_id) for app in (
            "ABCDE-12345", "PERMA-11111", "PERMA-11111", "ABCDE-12345")])
        worker = start_worker(settings_override=batching, SENTRY_DSN=ingest.dsn)
        assert [producer.wait(i, timeout=30)["status"] for i in job_ids] == [
            "succeeded", "dead", "dead", "succeeded"]
    finally:
        producer.close()
    worker.stop()  # warm shutdown flushes the SDK's queue
    totals = read_counters(redis_client, Keys(settings.key_prefix))
    assert (totals["messages"], totals["message_states:failed"]) == (1, 1)  # one FAILURE

    events = ingest.events()
    assert sorted(e.get("tags", {}).get("job_id", "") for e in events) == sorted(job_ids[1:3])
    assert {e["message"] for e in events} == {"notify-relay dead letter: permanent"}
    assert [e for e in events if "exception" in e] == []
    assert api_token not in ingest.text() and user_id not in ingest.text()


def test_fifty_jobs_refused_with_401_send_one_event_for_the_episode(
        producer: Producer, start_worker, ingest: SentryIngest, emulator_client, api_token):
    emulator_client.script({"kind": "respond", "status": 401, "name": "revoked-token"})
    worker = sentry_worker(start_worker, ingest)

    job_ids = producer.enqueue_many([example("transactional") for _ in range(50)])
    # Several sends and probes are refused before the token is "fixed"...
    wait_until(lambda: len(emulator_client.requests()) >= 4, 30, "probes to be refused")
    wait_until(lambda: len(ingest.events()) >= 1, 15, "the systemic alert")
    emulator_client.clear_faults()
    # ...then a probe closes the circuit and every job goes out.
    for job_id in job_ids:
        assert producer.wait(job_id, timeout=60)["status"] == "succeeded"
    worker.stop()

    refused = [r for r in emulator_client.requests() if r["status"] == 401]
    assert len(refused) >= 4
    [event] = ingest.events()
    assert event["tags"]["reason"] == "systemic"
    assert event["tags"]["job_id"] in job_ids
    assert event["level"] == "fatal"
    assert api_token not in ingest.text()


#: Runs in its own process: sentry-sdk patches http.client for the whole process, and
#: once an integration is installed it stays installed.
SEND_WITH_SENTRY_ON = """
import sys
import sentry_sdk
from producers.settings import Settings
from worker import sentry
from worker.http import NotifyClient

dsn, url = sys.argv[1:3]
assert sentry.init(Settings(sentry_dsn=dsn, api_token="l2-token"))
client = NotifyClient(url, "l2-token", connect_timeout_s=2, read_timeout_s=2, pool_size=1)
request = {"transactional": {"application": "ABCDE-12345", "users": {"list": ["u"]}}}
assert client.post(request).status == 200  # outside any transaction
with sentry_sdk.start_transaction(name="notify_relay.send", sampled=True):
    assert client.post(request).status == 200  # inside one, as a Celery task would be
sentry_sdk.capture_message("l2-probe")
sentry_sdk.flush(5)
"""


def test_posts_to_pushwoosh_carry_no_sentry_trace_or_baggage_headers(ingest: SentryIngest):
    # L2: sentry-sdk's default StdlibIntegration added `sentry-trace` and `baggage` (with
    # the DSN's public key, release and environment) to every POST.
    with FaultServer(respond(200, b'{"message_code": "L2"}')) as endpoint:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", SEND_WITH_SENTRY_ON, ingest.dsn,
                               endpoint.url], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        sent = [request.headers for request in endpoint.requests]
    assert len(sent) == 2
    for headers in sent:
        assert {"sentry-trace", "baggage", "traceparent"}.isdisjoint(headers), headers
        assert headers["authorization"] == "Token l2-token"
    # Sentry was on: the probe event reached the local ingest.
    assert [e.get("message") for e in ingest.events()] == ["l2-probe"]
    assert "publickey" not in json.dumps(sent)
