"""A bad setting stops every entry point at start-up: exit 2, one line naming it, no traceback.

Each case runs the real commands as subprocesses, side by side: `celery -A worker worker`,
`notify-relay enqueue` and `notify-relay scheduler` (and, for one value, Flower and
`notify-relay demo`). A command that accepted the value would start and keep running: it is
killed at the deadline and the case fails. `notify-relay config` and the emulator need no
settings, so a bad value must not stop them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, ROOT

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
DEADLINE_S = 30.0
PREFIX = "notify-relay: configuration error: "

ENTRY_POINTS: dict[str, list[str]] = {
    "worker": [str(BIN / "celery"), "-A", "worker", "worker", "--without-gossip",
               "--without-mingle", "--without-heartbeat"],
    "enqueue": [str(BIN / "notify-relay"), "enqueue", str(ROOT / "examples" / "segment.json")],
    "scheduler": [str(BIN / "notify-relay"), "scheduler"],
}
#: Run for one value only: they load settings through the same code as a command above.
ONCE: dict[str, list[str]] = {
    "flower": [str(BIN / "notify-relay"), "flower", "--port", "0"],
    "demo": [str(BIN / "notify-relay"), "demo", "--flower-port=0"],
}

#: One bad value per kind of check (URL, rate, whole number, seconds, choice, flag, and a
#: cross-variable rule). Every variable's own bad value is checked in-process, faster, by
#: tests/test_settings.py; these prove each entry point turns any of them into one line.
BAD_VALUES: list[tuple[str, str]] = [
    ("REDIS_URL", "localhost"),
    ("NOTIFY_RATE_LIMIT", "fast"),
    ("NOTIFY_RATE_LIMITS", "app-1=lots"),
    ("NOTIFY_MAX_ATTEMPTS", "0"),
    ("NOTIFY_CONNECT_TIMEOUT", "abc"),
    ("NOTIFY_LOG_FORMAT", "xml"),
    ("NOTIFY_RETRY_AMBIGUOUS", "maybe"),
    ("NOTIFY_VISIBILITY_TIMEOUT", "5"),  # not longer than connect + read timeout
]
CROSS_FIELD = {"NOTIFY_VISIBILITY_TIMEOUT"}  # their line states the rule, not a form


@dataclass
class Run:
    name: str
    returncode: int | None  # None: still running at the deadline (the value was accepted)
    stdout: str
    stderr: str


def clean_env(key_prefix: str, **extra: str) -> dict[str, str]:
    """The test's environment without any notify-relay variable, plus valid basics."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "PUSHWOOSH_", "FLOWER_", "SENTRY_", "REDIS_"))}
    env.update(REDIS_URL=REDIS_URL, NOTIFY_KEY_PREFIX=key_prefix, NOTIFY_QUEUE="invalid-settings",
               PUSHWOOSH_API_TOKEN="test-token", FLOWER_BASIC_AUTH="ops:test")
    env.update(extra)
    return env


def run_all(argvs: dict[str, list[str]], env: dict[str, str]) -> list[Run]:
    """Start every command at once, then collect each (killing any still up at the deadline)."""
    procs = {name: subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, argv in argvs.items()}
    runs = []
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=DEADLINE_S)
            runs.append(Run(name, proc.returncode, out, err))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            runs.append(Run(name, None, out, err))
    return runs


def assert_refused(run: Run, variable: str) -> None:
    assert run.returncode is not None, f"{run.name} started despite the bad {variable}"
    assert run.returncode == 2, f"{run.name}: exit {run.returncode}\n{run.stderr}"
    assert "Traceback" not in run.stderr + run.stdout, f"{run.name}:\n{run.stderr}"
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{run.name}: expected one line, got:\n{run.stderr}"
    assert lines[0].startswith(PREFIX + variable), f"{run.name}: {lines[0]}"


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES, ids=[v for v, _ in BAD_VALUES])
def test_a_bad_value_stops_every_entry_point_with_one_line_naming_it(
    variable, value, key_prefix, redis_client
):
    runs = run_all(ENTRY_POINTS, clean_env(key_prefix, **{variable: value}))
    for run in runs:
        assert_refused(run, variable)
        if variable not in CROSS_FIELD:
            assert "expected" in run.stderr  # the accepted form is quoted


def test_flower_and_the_demo_refuse_a_bad_value_before_starting_anything(key_prefix,
                                                                         redis_client):
    for run in run_all(ONCE, clean_env(key_prefix, NOTIFY_MAX_ATTEMPTS="0")):
        assert_refused(run, "NOTIFY_MAX_ATTEMPTS")


def test_a_worker_without_a_token_refuses_to_start(key_prefix, redis_client):
    env = clean_env(key_prefix)
    del env["PUSHWOOSH_API_TOKEN"]
    [run] = run_all({"worker": ENTRY_POINTS["worker"]}, env)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    # As root Celery first warns about running as superuser; the error is still one line.
    [line] = [line for line in run.stderr.splitlines() if "PUSHWOOSH_API_TOKEN" in line]
    assert line.startswith(PREFIX + "PUSHWOOSH_API_TOKEN is not set")


def test_flower_without_a_login_refuses_to_start(key_prefix, redis_client):
    env = clean_env(key_prefix)
    del env["FLOWER_BASIC_AUTH"]
    [run] = run_all({"flower": ONCE["flower"]}, env)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert "FLOWER_BASIC_AUTH is not set" in run.stderr


@pytest.mark.parametrize("url", ["sentinel://127.0.0.1:26379;redis://127.0.0.1:6379",
                                 "unix:///tmp/redis.sock"])
def test_a_redis_url_the_clients_cannot_use_is_refused_at_start_up(url, key_prefix, redis_client):
    [run] = run_all({"enqueue": ENTRY_POINTS["enqueue"]}, clean_env(key_prefix, REDIS_URL=url))
    assert_refused(run, "REDIS_URL")


def test_a_sentinel_url_without_the_monitored_name_is_refused_at_start_up(key_prefix,
                                                                         redis_client):
    env = clean_env(key_prefix, REDIS_URL="sentinel://127.0.0.1:26379")
    [run] = run_all({"enqueue": ENTRY_POINTS["enqueue"]}, env)
    assert_refused(run, "NOTIFY_SENTINEL_MASTER")


def test_the_reference_and_the_emulator_need_no_valid_settings(key_prefix, redis_client):
    env = clean_env(key_prefix, NOTIFY_RATE_LIMIT="fast")
    [config] = run_all({"config": [str(BIN / "notify-relay"), "config"]}, env)
    assert config.returncode == 0, config.stderr
    emulator = subprocess.Popen([str(BIN / "notify-relay"), "emulator", "--port", "0"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert emulator.stdout and emulator.stderr
        first = emulator.stdout.readline()  # its first line once listening; "" if it exited
        if not first.startswith("emulator listening on"):
            emulator.wait(DEADLINE_S)
            pytest.fail(f"the emulator did not start:\n{emulator.stderr.read()}")
    finally:
        emulator.terminate()
        emulator.wait(DEADLINE_S)
