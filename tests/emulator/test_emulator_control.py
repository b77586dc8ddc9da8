"""The control API under /_emulator/: its routes, validation and reset."""

from __future__ import annotations

import pytest

from emulator import EmulatorError, EmulatorServer


def test_health_says_ok(emulator, http):
    resp = http.get(emulator.url + "/_emulator/health", timeout=5)
    assert (resp.status_code, resp.json()) == (200, {"ok": True})


def test_scripting_returns_the_faults_with_ids(control):
    added = control.script({"kind": "close", "count": 2}, {"kind": "empty"})
    assert [(f["id"], f["kind"], f["remaining"]) for f in added] == [
        (1, "close", 2),
        (2, "empty", None),
    ]
    assert control.faults() == added


def test_a_bad_fault_is_refused_with_the_field_named(control):
    control.script({"kind": "empty"})
    with pytest.raises(EmulatorError, match=r"400 faults\[1\]\.status: expected an integer"):
        control.script({"kind": "close"}, {"kind": "respond", "status": "503"})
    assert [f["kind"] for f in control.faults()] == ["empty"]  # all or none


def test_the_faults_body_must_hold_a_list(emulator, http):
    resp = http.post(emulator.url + "/_emulator/faults", json={"kind": "close"}, timeout=5)
    assert (resp.status_code, resp.json()["code"]) == (400, 3)


def test_clearing_faults_restores_the_normal_path(notify, control):
    control.script({"kind": "respond", "status": 500})
    control.clear_faults()
    assert notify().status_code == 200


def test_reset_clears_the_log_faults_and_settings(notify, control):
    control.script({"kind": "respond", "status": 500, "count": 1})
    notify()
    control.set_latency(500)
    control.configure(unknown_identifiers_shape="list")
    control.reset()
    assert control.requests() == []
    assert control.faults() == []
    assert control.settings() == {
        "latency_ms": 0.0,
        "unknown_identifiers_shape": "object",
        "unknown_prefix": "unknown",
    }


def test_reset_restores_the_start_up_latency(token):
    with EmulatorServer(token=token, latency_ms=5) as emu:
        from emulator import EmulatorClient

        with EmulatorClient(emu.url) as client:
            client.set_latency(100)
            client.reset()
            assert client.settings()["latency_ms"] == 5


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("latency", {"latency_ms": -1}, "latency_ms"),
        ("latency", {"latency": 5}, "latency_ms"),
        ("settings", {"unknown_identifiers_shape": "tree"}, "unknown_identifiers_shape"),
        ("settings", {"colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(emulator, http, path, body, field):
    resp = http.put(f"{emulator.url}/_emulator/{path}", json=body, timeout=5)
    assert resp.status_code == 400
    assert field in resp.json()["message"]


def test_since_must_be_an_integer(emulator, http):
    resp = http.get(emulator.url + "/_emulator/requests?since=abc", timeout=5)
    assert resp.status_code == 400


def test_an_unknown_control_route_is_not_found(emulator, http):
    resp = http.get(emulator.url + "/_emulator/nope", timeout=5)
    assert (resp.status_code, resp.json()["code"]) == (404, 5)


def test_a_control_route_with_the_wrong_method_is_refused(emulator, http):
    resp = http.post(emulator.url + "/_emulator/health", timeout=5)
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "GET"
