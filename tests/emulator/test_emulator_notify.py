"""The normal path of POST /messaging/v2/notify: auth, validation, success, routing."""

from __future__ import annotations

import http.client
import re
import time
from urllib.parse import urlsplit

import pytest

from emulator import EmulatorClient, EmulatorServer

CODE = re.compile(r"^[0-9A-F]{4}-[0-9A-F]{8}-[0-9A-F]{8}$")


def test_a_valid_request_gets_a_v13_style_message_code(notify):
    resp = notify()
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert set(resp.json()) == {"message_code"}
    assert CODE.match(resp.json()["message_code"])


def test_message_codes_are_unique_per_request(notify):
    codes = {notify().json()["message_code"] for _ in range(50)}
    assert len(codes) == 50


def test_a_segment_request_is_accepted_too(notify):
    resp = notify({"segment": {"application": "ABCDE-12345", "code": "vip"}})
    assert resp.status_code == 200


def test_a_missing_authorization_header_is_unauthenticated(notify):
    resp = notify(token=None)
    assert resp.status_code == 401
    assert resp.json()["code"] == 16
    assert resp.json()["details"] == []


def test_a_wrong_token_is_unauthenticated_and_not_echoed(notify):
    resp = notify(token="wrong-secret-123")
    assert resp.status_code == 401
    assert resp.json()["code"] == 16
    assert "wrong-secret-123" not in resp.text


@pytest.mark.parametrize("header", ["Bearer {t}", "token {t}", "{t}", "Token", "Token  "])
def test_anything_but_the_documented_token_scheme_is_unauthenticated(notify, token, header):
    resp = notify(token=None, headers={"Authorization": header.format(t=token)})
    assert resp.status_code == 401
    assert token not in resp.text


def test_without_a_configured_token_any_non_empty_token_passes(open_notify):
    assert open_notify(token="anything").status_code == 200
    assert open_notify(token=None).status_code == 401
    assert open_notify(token=None, headers={"Authorization": "Token "}).status_code == 401


@pytest.mark.parametrize("body", ["not json", "{", b"\xff\xfe", ""])
def test_a_body_that_is_not_json_is_invalid_argument(notify, body):
    resp = notify(body)
    assert resp.status_code == 400
    assert resp.json()["code"] == 3


@pytest.mark.parametrize(
    "body",
    [
        [],
        "null",
        {},
        {"application": "ABCDE-12345"},
        {"segment": {}, "transactional": {}},
        {"segment": None},
        {"segment": "vip"},
    ],
    ids=["array", "null", "neither", "top-level-app", "both", "null-kind", "kind-not-object"],
)
def test_a_body_without_exactly_one_request_kind_is_invalid_argument(notify, body):
    resp = notify(body)
    assert resp.status_code == 400
    assert resp.json() == {"code": 3, "message": resp.json()["message"], "details": []}


def test_validation_stays_lenient_beyond_the_request_kind(notify):
    resp = notify({"transactional": {"applicationn": 5, "whatever": [1, 2]}})
    assert resp.status_code == 200


def test_an_unknown_path_is_not_found(emulator, http, token):
    resp = http.post(emulator.url + "/messaging/v2/notifyy", headers={"Authorization": token})
    assert resp.status_code == 404
    assert resp.json()["code"] == 5


def test_another_method_on_the_notify_path_is_method_not_allowed(emulator, http):
    resp = http.get(emulator.url + "/messaging/v2/notify")
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "POST"
    assert resp.json()["code"] == 12


def test_unknown_identifiers_come_as_an_object_of_lists_by_default(notify, valid_body):
    body = valid_body(return_unknown_identifiers=True)
    body["transactional"]["users"] = {"list": ["user-1", "unknown-user"]}
    body["transactional"]["hwids"] = ["unknown-hwid"]  # a bare (v1.3-style) list is read too
    resp = notify(body)
    assert resp.json()["unknown_identifiers"] == {
        "users": ["unknown-user"],
        "hwids": ["unknown-hwid"],
        "push_tokens": [],
    }


def test_unknown_identifiers_can_be_switched_to_a_flat_list(notify, control, valid_body):
    control.configure(unknown_identifiers_shape="list", unknown_prefix="x-")
    body = valid_body(return_unknown_identifiers=True)
    body["transactional"]["users"] = {"list": ["x-1", "user-1"]}
    body["transactional"]["push_tokens"] = {"list": ["x-2"]}
    assert notify(body).json()["unknown_identifiers"] == ["x-1", "x-2"]


def test_unknown_identifiers_are_absent_unless_asked_for(notify, valid_body):
    body = valid_body()
    body["transactional"]["users"] = {"list": ["unknown-user"]}
    assert "unknown_identifiers" not in notify(body).json()


def test_one_connection_carries_many_requests(emulator, token):
    parts = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        sockets = set()
        for _ in range(3):
            conn.request(
                "POST",
                "/messaging/v2/notify",
                body=b'{"segment": {}}',
                headers={"Authorization": f"Token {token}"},
            )
            resp = conn.getresponse()
            assert resp.status == 200
            resp.read()
            sockets.add(id(conn.sock))
        assert len(sockets) == 1
    finally:
        conn.close()


def test_the_configured_latency_delays_every_notify(notify, control):
    control.set_latency(150)
    started = time.monotonic()
    assert notify().status_code == 200
    assert time.monotonic() - started >= 0.15


def test_latency_can_be_set_at_start_up(http, token):
    with EmulatorServer(token=token, latency_ms=120) as emu:
        started = time.monotonic()
        resp = http.post(
            emu.url + "/messaging/v2/notify",
            json={"segment": {}},
            headers={"Authorization": f"Token {token}"},
            timeout=5,
        )
        assert resp.status_code == 200
        assert time.monotonic() - started >= 0.12
        with EmulatorClient(emu.url) as client:
            assert client.settings()["latency_ms"] == 120


def test_a_chunked_request_body_is_read(emulator, http, control, token):
    chunks = iter([b'{"segment": ', b'{"application": "ABCDE-12345"}}'])
    resp = http.post(
        emulator.url + "/messaging/v2/notify",
        data=chunks,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert resp.status_code == 200
    [record] = control.requests()
    assert record["headers"]["transfer-encoding"] == "chunked"
    assert record["body"] == {"segment": {"application": "ABCDE-12345"}}
