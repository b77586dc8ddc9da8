"""NotifyClient over real loopback HTTP: the emulator, or a small local server for what it
cannot do (a truncated answer, TLS)."""

from __future__ import annotations

import gc
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import types
from collections.abc import Iterator

import pytest

from emulator import EmulatorServer
from worker.classify import classify
from worker.failures import FailureClass as C
from worker.http import NotifyClient

REQUEST = {"transactional": {"application": "ABCDE-12345", "users": {"list": ["u-1"]}}}


def make_client(base_url: str, token: str) -> NotifyClient:
    return NotifyClient(base_url, token, connect_timeout_s=1.0, read_timeout_s=0.5, pool_size=2)


@pytest.fixture
def client(emulator: EmulatorServer, api_token: str) -> Iterator[NotifyClient]:
    notify = make_client(emulator.url, api_token)
    yield notify
    notify.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def truncating_server() -> Iterator[str]:
    """Reads one request, then sends the head and 6 of 100 promised body bytes, and closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"mess")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread.join(5)
    listener.close()


def test_a_post_sends_compact_json_with_the_headers_and_returns_the_answer(client,
                                                                          emulator_client):
    result = client.post(REQUEST)
    assert (result.status, result.error) == (200, None)
    assert isinstance(result.body, bytes) and b"message_code" in result.body
    assert result.headers and all(name == name.lower() for name in result.headers)
    assert classify(result).cls is C.SUCCESS
    [record] = emulator_client.requests()
    assert record["token_ok"] is True
    assert record["body"] == REQUEST
    headers = record["headers"]
    assert (headers["content-type"], headers["accept"]) == ("application/json", "application/json")
    assert headers["user-agent"].startswith("notify-relay/")
    assert int(headers["content-length"]) == len(json.dumps(REQUEST, separators=(",", ":")))


def test_an_error_status_comes_back_with_its_headers(client, emulator_client):
    emulator_client.script({"kind": "respond", "status": 429, "headers": {"Retry-After": "2"},
                            "count": 1})
    verdict = classify(client.post(REQUEST))
    assert (verdict.cls, verdict.http_status, verdict.retry_after_s) == (C.THROTTLED, 429, 2.0)


def test_connect_refused_is_transient(api_token):
    notify = make_client(f"http://127.0.0.1:{free_port()}", api_token)
    result = notify.post(REQUEST)
    assert result.status is None and result.error is not None
    assert classify(result).cls is C.TRANSIENT


def test_read_timeout_is_ambiguous(client, emulator_client):
    emulator_client.script({"kind": "hang", "hang_s": 5, "count": 1})
    result = client.post(REQUEST)
    assert type(result.error).__name__ == "ReadTimeoutError"
    assert classify(result).cls is C.AMBIGUOUS


def test_closed_without_a_response_is_ambiguous_and_the_next_post_reconnects(client,
                                                                             emulator_client):
    emulator_client.script({"kind": "close", "count": 1})
    assert classify(client.post(REQUEST)).cls is C.AMBIGUOUS
    assert client.post(REQUEST).status == 200


def test_closed_mid_response_is_ambiguous(truncating_server, api_token):
    notify = make_client(truncating_server, api_token)
    result = notify.post(REQUEST)
    assert "IncompleteRead" in str(result.error)
    assert classify(result).cls is C.AMBIGUOUS


def test_no_redirect_is_followed(client, emulator_client):
    # A re-POST is a second send, and would carry the token to the new location.
    emulator_client.script({"kind": "respond", "status": 307, "count": 1,
                            "headers": {"Location": "/elsewhere"}})
    assert client.post(REQUEST).status == 307
    assert len(emulator_client.requests()) == 1


def test_a_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
        emulator, api_token, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    through_proxy = make_client(emulator.url, api_token)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = make_client(emulator.url, api_token)
    monkeypatch.delenv("HTTP_PROXY")  # read once: the clients keep what they saw
    refused = through_proxy.post(REQUEST)
    assert type(refused.error).__name__ == "ProxyError"
    assert classify(refused).cls is C.TRANSIENT  # the proxy was never reached
    assert direct.post(REQUEST).status == 200


def _strings_reachable_from(root: object) -> Iterator[str]:
    """Every str/bytes in the object graph under `root`: a live pool, connection, frame
    or header dict in the error would show up here. Classes and modules are not entered
    (they are shared code, not the error's data)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType):
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            yield obj if isinstance(obj, str) else obj.decode("latin-1")
            continue
        stack.extend(gc.get_referents(obj))


@pytest.mark.parametrize("kind", ["refused", "hang", "close", "truncated"])
def test_the_token_is_nowhere_in_a_stored_error(kind, emulator, emulator_client, api_token,
                                                request):
    if kind == "refused":
        url = f"http://127.0.0.1:{free_port()}"
    elif kind == "truncated":
        url = request.getfixturevalue("truncating_server")
    else:
        emulator_client.script({"kind": kind, "hang_s": 5, "count": 1})
        url = emulator.url
    error = make_client(url, api_token).post(REQUEST).error
    assert error is not None
    assert api_token not in str(error) and api_token not in repr(error)
    assert error.__traceback__ is None  # its frames hold the header dict
    assert [text for text in _strings_reachable_from(error) if api_token in text] == []


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[str, str]]:
    """A loopback HTTPS server answering 200 with a fresh self-signed cert: (url, cert path)."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)

    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_https_trusts_the_bundle_from_the_environment(tls_server, api_token, monkeypatch):
    url, cert = tls_server
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    rejected = make_client(url, api_token).post(REQUEST)  # certifi's bundle: not ours
    assert type(rejected.error).__name__ == "SSLError"
    assert classify(rejected).cls is C.TRANSIENT  # refused in the handshake: nothing sent
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    assert make_client(url, api_token).post(REQUEST).status == 200
