"""`notify-relay health --container`: the image's one health check, for whatever PID 1 runs.

`probe_for` is fed the command lines Docker really produces (PID 1 is tini/docker-init
with `--init` or compose's `init: true`; a console script runs as `python SCRIPT` by its
shebang), and the HTTP checks are made against real servers: the emulator run as a child
process, a prometheus_client exporter whose collector must not be called.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, start_http_server

import notify_relay.container as container
from notify_relay.cli import cli
from notify_relay.cli.ops import command_argv
from notify_relay.container import Probe, http_check, probe_for, read_cmdline, worker_node
from notify_relay.processes import free_port, wait_until, worker_argv
from tests.conftest import ROOT

VENV = "/opt/venv/bin"
HOST = "3f2a1b0c9d8e"  # a container's hostname
WORKER = ["celery", "-A", "worker", "worker", "--loglevel", "INFO", "--without-gossip",
          "--without-mingle"]


def pid1(*command: str, init: bool = True) -> list[str]:
    """/proc/1/cmdline of a container started with `command` (console scripts via python)."""
    program, *args = command
    argv = ([f"{VENV}/python", f"{VENV}/{program}", *args]
            if program in ("celery", "notify-relay") else list(command))
    return ["/sbin/docker-init", "--", *argv] if init else argv


@pytest.mark.parametrize("init", [True, False])
def test_a_worker_is_checked_by_its_own_heartbeat_node(init):
    probe = probe_for(pid1(*WORKER, init=init), {}, HOST)
    assert (probe.kind, probe.node) == ("worker", f"celery@{HOST}")


@pytest.mark.parametrize(("args", "node"), [
    (["-n", "w3@%h"], f"w3@{HOST}"),
    (["-nw3@%h"], f"w3@{HOST}"),
    (["--hostname", "w3@%h"], f"w3@{HOST}"),
    (["--hostname=w3@%n.internal"], f"w3@{HOST}.internal"),
    (["-n", "w1@%h", "-n", "w2@%h"], f"w2@{HOST}"),  # the last one wins, as in click
    (["-n", "box7"], "celery@box7"),  # Celery reads a name without @ as the host
])
def test_the_worker_node_is_what_celery_makes_of_dash_n(args, node):
    assert worker_node(args, {}, HOST) == node
    assert probe_for(pid1(*WORKER, *args), {}, HOST).node == node


def test_the_worker_node_can_come_from_celerys_environment_variable():
    assert worker_node([], {"CELERY_WORKER_HOSTNAME": "w9@%h"}, HOST) == f"w9@{HOST}"
    assert worker_node(["-n", "w1@%h"], {"CELERY_WORKER_HOSTNAME": "w9@%h"}, HOST) == \
        f"w1@{HOST}"


@pytest.mark.parametrize(("command", "url"), [
    (("notify-relay", "flower", "--port", "5555"), "http://127.0.0.1:5555/healthcheck"),
    (("notify-relay", "flower", "--port=5601", "--address", "127.0.0.1"),
     "http://127.0.0.1:5601/healthcheck"),
    (("notify-relay", "flower"), "http://127.0.0.1:5555/healthcheck"),
    (("notify-relay", "flower", "--url_prefix=flower"), "http://127.0.0.1:5555/flower/healthcheck"),
    (("celery", "-A", "worker", "flower", "--port=5700"), "http://127.0.0.1:5700/healthcheck"),
    (("notify-relay", "emulator", "--host", "0.0.0.0", "--port", "8080"),
     "http://127.0.0.1:8080/_emulator/health"),
    (("notify-relay", "emulator"), "http://127.0.0.1:8080/_emulator/health"),
    (("notify-relay", "emulator", "--host", "::"), "http://[::1]:8080/_emulator/health"),
    (("notify-relay", "metrics"), "http://127.0.0.1:9808/favicon.ico"),
    (("notify-relay", "metrics", "--port", "9900", "--host", "10.0.0.5"),
     "http://10.0.0.5:9900/favicon.ico"),
])
def test_flower_the_emulator_and_the_exporter_are_checked_on_their_http_port(command, url):
    probe = probe_for(pid1(*command), {}, HOST)
    assert (probe.kind, probe.url) == ("http", url)


def test_the_ports_flower_and_the_emulator_take_from_the_environment():
    # `notify-relay flower` always passes --port, which beats Flower's FLOWER_PORT.
    assert probe_for(pid1("notify-relay", "flower"), {"FLOWER_PORT": "7000"}, HOST).url == \
        "http://127.0.0.1:5555/healthcheck"
    assert probe_for(pid1("celery", "-A", "worker", "flower"), {"FLOWER_PORT": "7000"},
                     HOST).url == "http://127.0.0.1:7000/healthcheck"
    assert probe_for(pid1("notify-relay", "emulator"), {"PORT": "5200"}, HOST).url == \
        "http://127.0.0.1:5200/_emulator/health"


@pytest.mark.parametrize("argv", [
    pid1("notify-relay", "scheduler"),
    [f"{VENV}/python", "-m", "notify_relay.cli", "scheduler"],
    ["/usr/bin/tini", "-s", "-g", "--", f"{VENV}/python", f"{VENV}/notify-relay", "scheduler"],
    ["/sbin/docker-init", "--", "bash"],
    [],
])
def test_the_scheduler_and_anything_else_is_checked_by_redis(argv):
    assert probe_for(argv, {}, HOST).kind == "redis"


def test_python_dash_m_and_init_options_are_seen_through():
    argv = ["tini", "-p", "SIGKILL", "--", "python3.11", "-u", "-X", "dev", "-m", "celery",
            "--app", "worker", "--broker", "redis://x", "worker", "-n", "a@%h"]
    assert probe_for(argv, {}, HOST).node == f"a@{HOST}"
    argv = ["dumb-init", "--rewrite", "15:2", f"{VENV}/python", "-m", "notify_relay",
            "emulator", "--port", "81"]
    assert probe_for(argv, {}, HOST).url == "http://127.0.0.1:81/_emulator/health"


def test_read_cmdline_splits_on_nul(tmp_path: Path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "cmdline").write_bytes(b"/sbin/docker-init\0--\0celery\0-A\0worker\0")
    assert read_cmdline(1, tmp_path) == ["/sbin/docker-init", "--", "celery", "-A", "worker"]


def test_the_http_check_passes_on_the_running_emulator_and_fails_once_it_is_gone():
    port = free_port()
    argv = command_argv("emulator", "--port", str(port))
    child = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = probe_for(argv, {}, HOST)  # the command line as PID 1 would show it
    try:
        wait_until(lambda: http_check(probe, timeout_s=1)[0], 20, "the emulator")
        ok, line = http_check(probe)
        assert ok and line.startswith("ok: notify-relay emulator: ") and "HTTP 200" in line
    finally:
        child.terminate()
        child.wait(timeout=10)
    ok, line = http_check(probe, timeout_s=1)
    assert not ok and line.startswith("unhealthy: notify-relay emulator: ")
    assert "unreachable" in line


def test_the_exporter_check_does_not_make_it_scrape_redis():
    class Counting:
        calls = 0

        def describe(self) -> list[object]:
            return []

        def collect(self) -> list[object]:
            Counting.calls += 1
            return []

    registry = CollectorRegistry()
    registry.register(Counting())  # type: ignore[arg-type]
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        probe = probe_for(pid1("notify-relay", "metrics", "--port", str(port)), {}, HOST)
        ok, line = http_check(probe)
        assert ok, line
        assert Counting.calls == 0
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_an_http_error_answer_is_unhealthy():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Down(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Down)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        probe = Probe("http", "flower", url=f"http://127.0.0.1:{server.server_port}/healthcheck")
        assert http_check(probe) == (False, f"unhealthy: flower: {probe.url} answered HTTP 503")
    finally:
        server.shutdown()


def test_the_check_ignores_http_proxy_variables(monkeypatch):
    # A proxy in the container's environment must not carry a loopback check away.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    test_an_http_error_answer_is_unhealthy()


@pytest.mark.integration
def test_health_container_finds_a_real_worker_by_its_node_and_the_scheduler_by_redis(
        monkeypatch, settings, start_worker):
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    worker = start_worker()
    # What PID 1 shows in a container running this worker (the fixture's own command).
    alive = ["/sbin/docker-init", "--", *worker_argv("--loglevel", "INFO", "-n",
                                                     f"{worker.name}@%h")]
    runner = CliRunner()

    def health_of(argv: list[str]) -> tuple[int, str]:
        monkeypatch.setattr(container, "read_cmdline", lambda: argv)
        answer = runner.invoke(cli, ["health", "--container"])
        return answer.exit_code, answer.output.strip()

    wait_until(lambda: health_of(alive)[0] == 0, 30, "the worker's heartbeat")
    code, line = health_of(alive)
    assert code == 0 and f"{worker.name}@{socket.gethostname()}" in line, line
    # Another node on the same host is not this one (--network host: one hostname for all).
    code, line = health_of([*alive[:-1], f"other-{worker.name}@%h"])
    assert code == 1 and line.startswith("unhealthy: no live worker matching"), line
    code, line = health_of(pid1("notify-relay", "scheduler"))
    assert code == 0 and line.startswith("ok: redis answered"), line
    assert line.endswith("[notify-relay scheduler]")
    answer = runner.invoke(cli, ["health", "--container", "--worker"])
    assert answer.exit_code == 2 and "--container picks the check" in answer.output
