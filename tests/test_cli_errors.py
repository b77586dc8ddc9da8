"""Every `notify-relay` command that touches Redis fails with one line and its exit code.

Each command runs as a real subprocess against each private Redis (tests/private_redis.py):
stopped, at maxmemory under noeviction, a read-only replica, and a wrong password. All of
them run at once in a module fixture (about 50 short processes); each test then reads its
own result. The long-running ones (`scheduler`, `metrics`) must keep running on a Redis
that is down, without a traceback. The worker's log line for a Redis error is checked in
a process of its own, since importing the tasks builds the Celery app.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from notify_relay.cli import cli
from notify_relay.cli.errors import INTERNAL, USAGE, report
from notify_relay.processes import free_port, wait_until
from tests.private_redis import PASSWORD, RedisStates, start_states

ROOT = Path(__file__).resolve().parent.parent
SEGMENT = str(ROOT / "examples" / "segment.json")
RUN_TIMEOUT_S = 30.0

#: argv (with {job} / {dead}: the seeded ids), then the exit code per state.
COMMANDS: list[tuple[list[str], dict[str, int]]] = [
    (["enqueue", SEGMENT], {"stopped": 3, "full": 3, "replica": 3, "bad_login": 2}),
    (["outcome", "{job}"], {"stopped": 3, "full": 0, "replica": 0, "bad_login": 2}),
    (["outcome", "no-such-job"], {"stopped": 3, "full": 1, "replica": 1}),
    (["dead", "list"], {"stopped": 3, "full": 0, "replica": 0, "bad_login": 2}),
    (["dead", "show", "{dead}"], {"stopped": 3, "full": 0, "replica": 0, "bad_login": 2}),
    (["dead", "show", "no-such-job"], {"stopped": 3, "full": 1, "replica": 1}),
    (["dead", "replay", "{dead}"], {"stopped": 3, "full": 3, "replica": 3, "bad_login": 2}),
    (["dead", "purge", "--yes"], {"stopped": 3, "full": 3, "replica": 3, "bad_login": 2}),
    (["dead", "export", "-"], {"stopped": 3, "full": 0, "replica": 0, "bad_login": 2}),
    (["stats"], {"stopped": 3, "full": 0, "replica": 0, "bad_login": 2}),
    (["stats", "--json"], {"stopped": 3, "full": 0, "replica": 0}),
    (["health"], {"stopped": 3, "full": 0, "replica": 0, "bad_login": 2}),
    (["health", "--worker"], {"stopped": 3, "full": 1, "replica": 1, "bad_login": 2}),
]
#: What the line says for each state that fails with 3.
WORDS = {"stopped": "is unavailable", "full": "is full", "replica": "is a read-only replica",
         "bad_login": "configuration error: REDIS_URL: redis at"}
CASES = [(" ".join(argv), state, code) for argv, codes in COMMANDS
         for state, code in codes.items()]


@dataclass
class Run:
    returncode: int | None  # None: still running when stopped on purpose
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def clean_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "PUSHWOOSH_", "FLOWER_", "SENTRY_", "REDIS_"))}
    return {**env, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT), **extra}


def run_cli(args: list[str], env: dict[str, str]) -> Run:
    done = subprocess.run([sys.executable, "-m", "notify_relay.cli", *args], env=env,
                          cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)
    return Run(done.returncode, done.stdout, done.stderr)


def run_for_a_while(args: list[str], env: dict[str, str], seconds: float,
                    probe: str | None = None) -> tuple[Run, str]:
    """Start a long-running command, optionally GET `probe`, stop it; its output."""
    proc = subprocess.Popen([sys.executable, "-m", "notify_relay.cli", *args], env=env,
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    body = ""
    try:
        if probe:
            wait_until(lambda: _get(probe) is not None or proc.poll() is not None, 20, probe)
            body = _get(probe) or ""
        time.sleep(seconds)  # a daemon must stay up this long: there is no state to wait on
    finally:
        still_up = proc.poll() is None
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    return Run(None if still_up else proc.returncode, out, err), body


def _get(url: str) -> str | None:
    try:
        return requests.get(url, timeout=2).text
    except requests.RequestException:
        return None


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisStates]:
    yield from start_states(tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="module")
def results(states: RedisStates) -> dict[tuple[str, str], Run]:
    """Every (command, state) at once: the processes mostly wait on imports and sockets."""
    def one(case: tuple[str, str, int]) -> Run:
        command, state, _ = case
        args = [a.format(job=states.job_id, dead=states.dead_id) for a in command.split()]
        return run_cli(args, clean_env(states.url(state)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = pool.map(one, CASES)
        return {(command, state): run for (command, state, _), run in zip(CASES, runs,
                                                                         strict=True)}


@pytest.mark.parametrize(("command", "state", "code"), CASES,
                         ids=[f"{state}-{command}" for command, state, code in CASES])
def test_every_command_fails_with_one_line_and_the_documented_exit_code(
        results, states, command, state, code):
    run = results[(command, state)]
    output = run.stdout + run.stderr

    assert run.returncode == code, output
    assert "Traceback" not in output
    assert PASSWORD not in output and ":wrong@" not in output
    assert len(run.stderr_lines) <= 1, run.stderr
    if code in (2, 3):
        [line] = run.stderr_lines
        assert line.startswith("notify-relay: ") and WORDS[state] in line, line
        assert re.search(r"; \S", line), f"no 'what to do' clause: {line}"
    if code == 3:
        port = states.url(state).rsplit(":", 1)[1]  # "PORT/0"
        assert f"redis at 127.0.0.1:{port}" in run.stderr


def test_debug_shows_the_traceback_before_the_same_line_and_exit_code(states):
    for args, extra in (["--debug", "outcome", "x"], {}), (["outcome", "x"],
                                                           {"NOTIFY_DEBUG": "1"}):
        run = run_cli(args, clean_env(states.stopped_url, **extra))

        assert run.returncode == 3
        assert "Traceback" in run.stderr
        assert "The above exception was the direct cause" in run.stderr  # redis-py's kept
        assert run.stderr_lines[-1].startswith("notify-relay: redis at 127.0.0.1:")


def test_the_scheduler_keeps_trying_while_redis_is_down(states):
    run, _ = run_for_a_while(["scheduler"], clean_env(states.stopped_url), seconds=1.0)

    assert run.returncode is None, run.stderr  # still running when stopped
    assert "Traceback" not in run.stdout + run.stderr
    assert "redis unavailable" in run.stderr and PASSWORD not in run.stderr


def test_the_metrics_exporter_reports_redis_down_without_a_traceback(states):
    port = free_port()
    run, body = run_for_a_while(["metrics", "--host", "127.0.0.1", "--port", str(port)],
                                clean_env(states.stopped_url), seconds=0.2,
                                probe=f"http://127.0.0.1:{port}/metrics")

    assert run.returncode is None, run.stderr
    assert "notify_relay_up 0.0" in body
    assert "Traceback" not in run.stdout + run.stderr and PASSWORD not in run.stderr


WORKER_PROBE = """
import logging, sys
logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
from worker import runtime, tasks
from worker.store.claims import Item
rt = runtime.Runtime.build(tasks.settings)
# the seeded job, as its first hand-out carries it: claiming it is a write Redis refuses
print(tasks._deliver_one(Item(sys.argv[1], 1, -1), rt))
rt.close()
"""


@pytest.mark.parametrize("state", ["full", "replica"])
def test_the_worker_logs_a_redis_error_as_one_line_in_the_clis_words(states, state):
    env = clean_env(states.url(state), PUSHWOOSH_API_TOKEN="t",
                    PUSHWOOSH_BASE_URL="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-c", WORKER_PROBE, states.job_id], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    cli_line = run_cli(["enqueue", SEGMENT], clean_env(states.url(state))).stderr_lines[0]

    assert done.stdout.strip() == "requeue", done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if "notify_relay.task" in ln]
    assert "Traceback" not in done.stderr and PASSWORD not in done.stderr
    what_and_why = cli_line.removeprefix("notify-relay: ").rsplit("; ", 1)[0]
    assert line == f"ERROR notify_relay.task {what_and_why}; requeueing the message"


def test_help_lists_the_exit_codes():
    text = CliRunner().invoke(cli, ["--help"]).output
    assert "Exit codes:" in text and "--debug" in text
    for code in range(5):
        assert re.search(rf"^\s+{code}\s+\S", text, re.M), code


def test_the_readme_documents_the_same_exit_codes():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (\d) \|", section, re.M)
    assert rows == ["0", "1", "2", "3", "4"]


def test_a_file_error_is_usage_and_a_bug_is_internal_each_in_one_line():
    line, code = report(FileNotFoundError(2, "No such file or directory", "/x/y"), "h:1/0")
    assert (line, code) == ("cannot use /x/y: No such file or directory; check the path "
                            "and its permissions", USAGE)
    line, code = report(KeyError("job"), "h:1/0")
    assert code == INTERNAL and line.startswith("internal error: KeyError: 'job'; rerun with "
                                                "--debug")
