"""What the emulator records per request, and that the token is never among it."""

from __future__ import annotations

import hashlib
import json
import time

from emulator import EmulatorClient, EmulatorServer


def test_a_request_is_recorded_with_its_outcome(notify, control, valid_body):
    before = time.time()
    notify()
    [record] = control.requests()
    assert record["seq"] == 1
    assert before <= record["time"] <= time.time()
    assert (record["method"], record["path"]) == ("POST", "/messaging/v2/notify")
    assert record["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in record["headers"])
    assert record["headers"]["authorization"] == "Token ***"
    assert (record["authorized"], record["token_ok"], record["token_sha256"]) == (True, True, None)
    assert record["body"] == valid_body()
    assert (record["status"], record["fault"]) == (200, None)
    assert record["peer"] == "127.0.0.1"  # the client's address (simulated hosts: theirs)


def test_a_rejected_token_is_recorded_as_not_ok(notify, control):
    notify(token="wrong")
    [record] = control.requests()
    assert (record["authorized"], record["token_ok"], record["status"]) == (False, False, 401)


def test_no_token_ever_reaches_the_log(notify, control, token):
    notify()
    notify(token="leaked-secret-1")
    notify(token=None, headers={"Authorization": "Bearer leaked-secret-2"})
    notify(token=None, headers={"Authorization": "leaked-secret-3"})
    dump = json.dumps(control.requests())
    for secret in (token, "leaked-secret-1", "leaked-secret-2", "leaked-secret-3"):
        assert secret not in dump
    assert [r["headers"]["authorization"] for r in control.requests()] == [
        "Token ***",
        "Token ***",
        "Bearer ***",
        "***",
    ]


def test_without_a_configured_token_its_sha256_is_recorded(open_emulator, open_notify):
    open_notify(token="presented-token")
    with EmulatorClient(open_emulator.url) as client:
        [record] = client.requests()
    expected = hashlib.sha256(b"presented-token").hexdigest()
    assert (record["token_sha256"], record["token_ok"], record["authorized"]) == (
        expected,
        None,
        True,
    )
    assert "presented-token" not in json.dumps(record)


def test_since_returns_only_later_requests(notify, control):
    for _ in range(3):
        notify()
    assert [r["seq"] for r in control.requests(since=1)] == [2, 3]
    assert control.requests(since=3) == []


def test_seq_keeps_counting_after_the_log_is_cleared(notify, control):
    notify()
    control.clear()
    assert control.requests() == []
    notify()
    assert [r["seq"] for r in control.requests()] == [2]


def test_a_body_that_is_not_json_is_recorded_as_text(notify, control):
    notify("<xml/>")
    assert control.requests()[0]["body"] == "<xml/>"


def test_bodies_can_be_left_out_of_the_log(http, token):
    with EmulatorServer(token=token, record_bodies=False) as emu:
        http.post(
            emu.url + "/messaging/v2/notify",
            json={"segment": {}},
            headers={"Authorization": f"Token {token}"},
            timeout=5,
        )
        with EmulatorClient(emu.url) as client:
            [record] = client.requests()
    assert (record["body"], record["status"]) == (None, 200)


def test_control_calls_are_not_recorded_but_stray_paths_are(emulator, control, http):
    control.health()
    control.faults()
    http.post(emulator.url + "/v2/notify", json={}, timeout=5)
    [record] = control.requests()
    assert (record["path"], record["status"]) == ("/v2/notify", 404)
