"""`honcho start` on the repository's Procfile: the service as a Procfile platform runs it.

Every process type starts (the emulator too, as the endpoint), jobs enqueued through
`Producer` succeed, Flower asks for the basic auth it was given, and on SIGTERM every
process exits 0: Celery's warm shutdown (SIGTERM) exits with EX_OK, Flower's SIGTERM
handler calls sys.exit(0), the emulator returns normally. Honcho forwards SIGTERM to each
child whatever signal it got itself, and reports `<name>.1 stopped (rc=N)` per child (a
process killed by a signal would show rc=-N; one still running after honcho's 5 s grace
is SIGKILLed and shows rc=-9).
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from notify_relay.processes import wait_until
from producers import Producer
from tests.conftest import REDIS_URL, ROOT
from tests.integration.helpers import example

pytestmark = pytest.mark.integration

PROCFILE = ROOT / "Procfile"
BIN = Path(sys.executable).parent
TOKEN = "procfile-test-token"
BASIC_AUTH = ("ops", "procfile-test-password")
# Honcho's own process-type line pattern (honcho/environ.py).
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
STOPPED = re.compile(r"\|\s*(\S+)\.1 stopped \(rc=(-?\d+)\)")


def procfile() -> dict[str, str]:
    """Process type -> command, in file order (the order honcho assigns ports in)."""
    return {m.group(1): m.group(2) for line in PROCFILE.read_text().splitlines()
            if (m := PROCFILE_LINE.match(line))}


def process_types() -> list[str]:
    return list(procfile())


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def free_base_port(count: int) -> int:
    """A base port B with B, B+100, ... free: honcho gives process i PORT = B + 100 * i."""
    for _ in range(50):
        base = random.randrange(20000, 60000 - 100 * count)
        if all(port_free(base + 100 * i) for i in range(count)):
            return base
    raise RuntimeError("no free port range for honcho")


@dataclass
class Honcho:
    proc: subprocess.Popen[bytes]
    log_path: Path
    ports: dict[str, int]
    env: dict[str, str]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines_of(self, name: str) -> str:
        return "\n".join(line for line in self.output().splitlines()
                         if re.search(rf"\s{name}\.1\s+\|", line))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def honcho_env(ports: dict[str, int], key_prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "PUSHWOOSH_", "FLOWER_", "SENTRY_")) and k != "PORT"}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # the Procfile names bare commands
        REDIS_URL=REDIS_URL,
        NOTIFY_KEY_PREFIX=key_prefix,
        NOTIFY_QUEUE=f"procfile-{key_prefix.strip(':')}",
        PUSHWOOSH_API_TOKEN=TOKEN,
        EMULATOR_TOKEN=TOKEN,  # the emulator accepts only our token
        PUSHWOOSH_BASE_URL=f"http://127.0.0.1:{ports['emulator']}",
        FLOWER_BASIC_AUTH=":".join(BASIC_AUTH),
    )
    return env


@pytest.fixture
def honcho(redis_client, key_prefix: str, tmp_path: Path) -> Iterator[Honcho]:
    names = process_types()
    base = free_base_port(len(names))
    ports = {name: base + 100 * i for i, name in enumerate(names)}
    empty_env = tmp_path / "empty.env"  # not the developer's ./.env
    empty_env.write_text("")
    env = honcho_env(ports, key_prefix)
    log_path = tmp_path / "honcho.log"
    argv = [str(BIN / "honcho"), "start", "--no-colour", "-f", str(PROCFILE), "-d", str(ROOT),
            "-e", str(empty_env), "-p", str(base)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    running = Honcho(proc, log_path, ports, env)
    yield running
    if proc.poll() is None:  # a failed test: do not leave the stack running
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    sys.stderr.write(f"--- honcho output tail ---\n{running.output()[-4000:]}\n")


def answers(url: str, **kwargs: object) -> bool:
    try:
        return requests.get(url, timeout=1, **kwargs).ok  # type: ignore[arg-type]
    except requests.RequestException:
        return False


def wait_ready(stack: Honcho) -> None:
    def ready() -> bool:
        if stack.proc.poll() is not None:
            raise AssertionError(f"honcho exited early:\n{stack.output()[-4000:]}")
        return ("ready." in stack.lines_of("worker")
                and answers(f"http://127.0.0.1:{stack.ports['emulator']}/_emulator/health")
                and answers(f"http://127.0.0.1:{stack.ports['flower']}/healthcheck"))

    wait_until(ready, 60, "worker, Flower and emulator to be ready under honcho")


def test_procfile_declares_each_process_once_with_exec_and_flower_on_port():
    commands = procfile()
    assert list(commands)[:3] == ["worker", "flower", "emulator"]
    assert len(PROCFILE.read_text().splitlines()) == len(commands)  # nothing honcho skips
    for name, command in commands.items():
        # exec: SIGTERM reaches the process itself, not a shell that dies of it (rc=-15).
        assert command.startswith("exec "), name
    assert "PORT" in commands["flower"]
    assert commands["worker"].startswith("exec notify-relay worker")


def test_honcho_runs_the_procfile_jobs_succeed_and_every_process_stops_cleanly(honcho):
    wait_ready(honcho)
    producer = Producer.from_env(honcho.env)
    try:
        job_ids = [producer.enqueue(example(name)) for name in
                   ("segment", "transactional", "transactional")]
        records = [producer.wait(job_id, timeout=30) for job_id in job_ids]
    finally:
        producer.close()
    assert [r["status"] for r in records] == ["succeeded"] * 3, records
    assert all(r["attempts"][-1]["http_status"] == 200 for r in records)

    flower = f"http://127.0.0.1:{honcho.ports['flower']}/"
    assert requests.get(flower, timeout=5).status_code == 401
    assert requests.get(flower, timeout=5, auth=BASIC_AUTH).status_code == 200

    assert honcho.stop(signal.SIGTERM) == 143  # honcho's own code for "stopped by SIGTERM"
    output = honcho.output()
    exits = {name: int(rc) for name, rc in STOPPED.findall(output)}
    assert exits == dict.fromkeys(process_types(), 0), output[-4000:]
    assert "sending SIGKILL" not in output
    assert "Warm shutdown" in honcho.lines_of("worker")
    assert "Traceback" not in output
