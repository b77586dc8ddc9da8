"""EmulatorClient helpers, EmulatorServer lifecycle, and a bench smoke run."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from emulator import EmulatorClient, EmulatorServer, bench


def test_wait_for_requests_returns_once_enough_arrived(notify, control):
    notify()
    notify()
    assert [r["seq"] for r in control.wait_for_requests(2, timeout=5)] == [1, 2]
    assert control.wait_for_requests(1, timeout=5, since=1)[0]["seq"] == 2


def test_wait_for_requests_times_out_with_what_it_saw(notify, control):
    control.script({"kind": "respond", "status": 503})
    notify()
    with pytest.raises(TimeoutError, match=r"recorded 1 of 2 expected .* -> 503 \(fault respond\)"):
        control.wait_for_requests(2, timeout=0.2)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_health_is_false_when_nothing_listens():
    with EmulatorClient(f"http://127.0.0.1:{_closed_port()}") as client:
        assert client.health() is False


def test_stop_does_not_wait_for_a_hanging_request(token):
    emu = EmulatorServer(token=token).start()
    client = EmulatorClient(emu.url)
    client.script({"kind": "hang", "hang_s": 60})
    with requests.Session() as http, pytest.raises(requests.exceptions.ReadTimeout):
        http.post(emu.url + "/messaging/v2/notify", json={}, timeout=0.2)
    client.close()
    started = time.monotonic()
    emu.stop()
    emu.stop()  # idempotent
    assert time.monotonic() - started < 2


def test_url_needs_a_started_server():
    with pytest.raises(RuntimeError, match="not started"):
        _ = EmulatorServer().url


def test_a_bad_start_up_fault_fails_before_listening():
    with pytest.raises(ValueError, match=r"faults\[0\]\.kind"):
        EmulatorServer(faults=[{"kind": "boom"}])


def test_the_bench_runs_against_a_server(token):
    with EmulatorServer(token=bench.TOKEN) as emu:
        result = bench.run(emu.url, requests=40, threads=2)
    assert (result["requests"], result["errors"]) == (40, 0)
    assert result["rps"] > 0
