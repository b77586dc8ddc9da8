"""`python -m emulator` as a real child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests

from emulator import EmulatorClient
from emulator.process import EmulatorProcess


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_it_starts_on_a_free_port_answers_and_exits_0_on_a_signal(sig):
    emu = EmulatorProcess("--token", "cli-token").start()
    try:
        assert emu.url.startswith("http://127.0.0.1:") and not emu.url.endswith(":0")
        resp = requests.post(
            emu.url + "/messaging/v2/notify",
            json={"segment": {}},
            headers={"Authorization": "Token cli-token"},
            timeout=5,
        )
        assert resp.status_code == 200
    finally:
        assert emu.proc is not None
        emu.proc.send_signal(sig)
        assert emu.stop() == 0


def test_the_token_can_come_from_the_environment():
    env = {**os.environ, "EMULATOR_TOKEN": "env-token"}
    with EmulatorProcess(env=env) as emu, requests.Session() as http:
        url = emu.url + "/messaging/v2/notify"
        wrong = http.post(url, json={"segment": {}}, headers={"Authorization": "Token x"})
        right = http.post(url, json={"segment": {}}, headers={"Authorization": "Token env-token"})
        assert (wrong.status_code, right.status_code) == (401, 200)


def test_faults_can_be_scripted_on_the_command_line():
    fault = '{"kind": "respond", "status": 503, "count": 1}'
    with EmulatorProcess("--fault", fault, "--latency-ms", "1") as emu:
        with EmulatorClient(emu.url) as client:
            assert [f["remaining"] for f in client.faults()] == [1]
            assert client.settings()["latency_ms"] == 1
        resp = requests.post(emu.url + "/messaging/v2/notify", json={}, timeout=5)
        assert resp.status_code == 503


@pytest.mark.parametrize("fault", ['{"kind": "boom"}', "not json"])
def test_a_bad_command_line_fault_exits_2_with_a_message(fault):
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "--port", "0", "--fault", fault],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "fault" in done.stderr
    assert "listening" not in done.stdout


@pytest.mark.parametrize(
    ("flag", "value"), [("--max-connections", "0"), ("--idle-timeout-s", "-1")]
)
def test_a_limit_out_of_range_exits_2_naming_it(flag, value):
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "--port", "0", flag, value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert flag[2:].replace("-", "_") in done.stderr
    assert "listening" not in done.stdout


def test_the_limits_can_be_set_on_the_command_line():
    limits = ("--max-connections", "1", "--idle-timeout-s", "60")
    with EmulatorProcess(*limits) as emu, requests.Session() as first, requests.Session() as second:
        assert first.get(emu.url + "/_emulator/health", timeout=5).status_code == 200
        assert second.get(emu.url + "/_emulator/health", timeout=5).status_code == 503  # cap 1
