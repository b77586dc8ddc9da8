"""Sentry through the real SDK transport into a local ingest endpoint.

The worker runs with SENTRY_DSN pointing at `SentryIngest`, a loopback HTTP server that
records every envelope. A worker is stopped (warm shutdown flushes the SDK) before the
events are counted, so "no event" means none was ever sent, not "none yet".
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from notify_relay.processes import wait_until
from producers import Producer
from tests.integration.helpers import example

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
