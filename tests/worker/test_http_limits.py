"""What a server can do to a send is bounded, over real loopback sockets (security review
2026-12): time by one deadline per send (H1), memory by a body cap with nothing decoded
(M2, M8), and a token http.client refuses never leaks (M1)."""

from __future__ import annotations

import gzip
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from notify_relay.processes import wait_until
from tests.worker.servers import (
    FaultServer,
    KeepAliveServer,
    drip_body,
    drip_head,
    endless_body,
    gzip_json,
    respond,
)
from worker.classify import RequestHeaderError, classify
from worker.failures import FailureClass as C
from worker.http import MAX_BODY_BYTES, NotifyClient

REQUEST = {"transactional": {"application": "ABCDE-12345", "users": {"list": ["u-1"]}}}
TOKEN = "secret-token-limits"
DEADLINE_S = 1.5
#: Slack for thread scheduling on a loaded 2-core machine.
SLACK_S = 0.6


def make_client(url: str, token: str = TOKEN, deadline_s: float = DEADLINE_S) -> NotifyClient:
    return NotifyClient(url, token, connect_timeout_s=1.0, read_timeout_s=0.5, pool_size=2,
                        deadline_s=deadline_s)


@pytest.fixture
def client_for() -> Iterator:
    made: list[NotifyClient] = []

    def build(url: str, **kwargs) -> NotifyClient:
        made.append(make_client(url, **kwargs))
        return made[-1]

    yield build
    for client in made:
        client.close()


def timed_post(client: NotifyClient):
    started = time.monotonic()
    result = client.post(REQUEST)
    return result, time.monotonic() - started


# H1 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("behaviour", [drip_body(0.1), drip_head(0.1)], ids=["body", "head"])
def test_a_dripping_response_ends_at_the_deadline_as_ambiguous_and_the_drip_stops(
        behaviour, client_for):
    # 0.1 s per byte: every recv is well inside the 0.5 s read timeout, so without a
    # deadline the send would last 100 s (body) or 1000 s (head).
    with FaultServer(behaviour) as server:
        result, elapsed_s = timed_post(client_for(server.url))
        assert DEADLINE_S - 0.05 <= elapsed_s < DEADLINE_S + SLACK_S
        assert result.deadline_passed and result.status is None
        assert "deadline of 1.5 s passed" in str(result.error)
        verdict = classify(result)
        assert verdict.cls is C.AMBIGUOUS and verdict.ambiguous
        # The socket was closed, not handed back to the pool: the server's writes fail.
        wait_until(lambda: server.client_gone_at is not None, 3, "the drip to stop")
        assert server.client_gone_at - time.monotonic() < 1.0


def test_a_deadline_error_holds_no_token(client_for):
    with FaultServer(drip_body(0.1)) as server:
        error = client_for(server.url).post(REQUEST).error
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert error is not None and error.__traceback__ is None


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def test_a_slow_tls_connect_counts_against_the_same_deadline(certificate, client_for,
                                                              monkeypatch):
    cert, key = certificate
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    # 0.8 s of handshake (under the 1 s connect timeout), then a drip: the send still
    # ends 1.5 s after it started, not 0.8 s + 1.5 s.
    with FaultServer(drip_body(0.1), tls=context, handshake_delay_s=0.8) as server:
        result, elapsed_s = timed_post(client_for(server.url))
    assert result.deadline_passed, result.error
    assert elapsed_s < DEADLINE_S + SLACK_S


def test_a_connect_longer_than_the_deadline_is_cut_at_it_and_sends_nothing(
        certificate, monkeypatch):
    cert, key = certificate
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    # A 2 s handshake, a 3 s connect timeout and a 0.8 s budget: the connect ends at the
    # budget (the connect timeout is capped to it, and the reaper cuts the socket), and
    # whichever comes first, the request is never written.
    with FaultServer(respond(200, b"{}"), tls=context, handshake_delay_s=2.0) as server:
        client = NotifyClient(server.url, TOKEN, connect_timeout_s=3.0, read_timeout_s=0.5,
                              pool_size=1, deadline_s=0.8)
        result, elapsed_s = timed_post(client)
        client.close()
        assert server.requests == []
    assert result.status is None and classify(result).cls in (C.TRANSIENT, C.AMBIGUOUS)
    assert 0.75 <= elapsed_s < 0.8 + SLACK_S


def test_quick_sends_on_reused_connections_are_never_cut_by_an_earlier_send_s_deadline(
        emulator, api_token, client_for):
    # 0.2 s budget, sends of a few ms for ~1 s on two threads sharing two connections:
    # many earlier deadlines pass while later sends use the same sockets.
    client = client_for(emulator.url, token=api_token, deadline_s=0.2)
    statuses: list[int | None] = []

    def send_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            statuses.append(client.post(REQUEST).status)

    threads = [threading.Thread(target=send_for, args=(1.0,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) > 20
    assert set(statuses) == {200}


def test_an_idle_pooled_connection_outlives_the_deadline_of_the_send_that_used_it(client_for):
    with KeepAliveServer() as server:
        client = client_for(server.url, deadline_s=0.3)
        assert client.post(REQUEST).status == 200
        time.sleep(0.6)  # that send's deadline passes while its connection waits in the pool
        assert [client.post(REQUEST).status for _ in range(3)] == [200, 200, 200]
        assert len(server.connections) == 1  # the same socket, never shut down


def test_the_deadline_defaults_to_connect_plus_read_timeout():
    client = NotifyClient("http://127.0.0.1:9", TOKEN, connect_timeout_s=3.05,
                          read_timeout_s=10, pool_size=1)
    assert client.deadline_s == pytest.approx(13.05)


# M2 -------------------------------------------------------------------------------------

def test_gzip_is_never_asked_for_nor_decoded_and_reads_as_an_unreadable_body(client_for):
    document = json.dumps({"message_code": "GZ-1"}).encode()
    with FaultServer(gzip_json(200, document)) as server:
        result = client_for(server.url).post(REQUEST)
    assert server.requests[0].headers["accept-encoding"] == "identity"
    assert result.body == gzip.compress(document)  # raw: no inflation in the worker
    verdict = classify(result)
    assert (verdict.cls, verdict.message_code) == (C.SUCCESS, None)
    assert verdict.message == "success status; body in Content-Encoding 'gzip', not read"


def test_a_gzip_error_body_is_classified_on_its_status_without_its_bytes(client_for):
    with FaultServer(gzip_json(503, b'{"code": 3, "message": "bad"}')) as server:
        verdict = classify(client_for(server.url).post(REQUEST))
    assert (verdict.cls, verdict.grpc_code) == (C.TRANSIENT, None)  # the 3 inside: unread
    assert verdict.message == "HTTP 503; body in Content-Encoding 'gzip', not read"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_is_not_read_and_a_2xx_is_still_a_success(declared, client_for):
    huge = respond(200, b"{" + b" " * (8 * MAX_BODY_BYTES) + b"}") if declared else endless_body()
    with FaultServer(huge) as server:
        client = client_for(server.url)
        result, elapsed_s = timed_post(client)
        assert result.body == b"" and result.body_skipped == "body over 65536 bytes, not read"
        verdict = classify(result)
        assert verdict.cls is C.SUCCESS
        assert verdict.message == "success status; body over 65536 bytes, not read"
        assert elapsed_s < 1.0  # nothing waited for the rest of it
        if not declared:  # endless: only a closed connection stops the server
            wait_until(lambda: server.client_gone_at is not None, 3, "the server to be cut off")
            assert server.sent_bytes < 16 * 2**20  # what the kernel buffers took
        assert client.post(REQUEST).status == 200  # a fresh connection


def test_an_error_body_over_the_cap_is_classified_on_its_status_alone(client_for):
    with FaultServer(endless_body(429)) as server:
        verdict = classify(client_for(server.url).post(REQUEST))
    assert (verdict.cls, verdict.http_status) == (C.THROTTLED, 429)
    assert verdict.message == "HTTP 429; body over 65536 bytes, not read"


def test_a_body_of_exactly_the_cap_is_read_whole(client_for):
    code = "C" * (MAX_BODY_BYTES - len('{"message_code":""}'))
    body = json.dumps({"message_code": code}, separators=(",", ":")).encode()
    assert len(body) == MAX_BODY_BYTES
    with FaultServer(respond(200, body)) as server:
        result = client_for(server.url).post(REQUEST)
    assert (result.body, result.body_skipped) == (body, None)
    assert classify(result).message_code == code


# M8 -------------------------------------------------------------------------------------

def test_a_deeply_nested_2xx_body_is_a_success_not_an_exception(client_for):
    with FaultServer(respond(200, b"[" * 60_000)) as server:
        verdict = classify(client_for(server.url).post(REQUEST))
    assert verdict.cls is C.SUCCESS
    assert verdict.message == "success status with an unreadable body"


# M1 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["abc123\nSECRETPART", "abc\r\nX-Evil: 1", "tök€n-SECRET"],
                         ids=["newline", "crlf", "not-latin-1"])
def test_a_token_http_client_refuses_is_systemic_with_a_fixed_text(token, client_for):
    with FaultServer(respond(200, b"{}")) as server:
        result = client_for(server.url, token=token).post(REQUEST)
        assert server.requests == []  # nothing was sent
    assert isinstance(result.error, RequestHeaderError)
    verdict = classify(result)
    assert verdict.cls is C.SYSTEMIC
    for text in (str(result.error), repr(result.error), verdict.message or ""):
        assert "SECRET" not in text and "abc" not in text and "Evil" not in text
    assert result.error.__context__ is None and result.error.__traceback__ is None
    assert "PUSHWOOSH_API_TOKEN" in (verdict.message or "")

