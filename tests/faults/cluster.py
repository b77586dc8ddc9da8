"""The processes a fault scenario runs against: its own Redis, the emulator, Celery workers.

Each class owns one kind of process and the one fault that can be done to it:
`RedisServer.crash()` / `.start()`, `EmulatorProcess.stop()` / `.start()` (same port, so the
workers see "connection refused" in between), `WorkerPool.kill()` / `.restart()`. Every start
waits on a real readiness signal (PING, the health endpoint, Celery's "ready." line) with a
deadline; nothing here sleeps in place of synchronisation.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import redis

from emulator import EmulatorClient
from notify_relay.processes import Service, python_argv, wait_until, worker_argv
from producers.settings import Settings

# Not resolve(): a checkout reached through a symlink keeps testing its own code.
ROOT = Path(__file__).absolute().parents[2]
REDIS_BINARY = "/usr/bin/redis-server"
START_TIMEOUT_S = 60.0


class RedisServer:
    """A private `redis-server` with the append-only file on, in its own data dir and port.

    `appendfsync always`: the guarantee under test is that whatever Redis acknowledged
    (an enqueue, a claim, a recorded success, an ack) survives the crash. `everysec`
    only promises that up to the last second or two when the *host* goes down with it;
    `always` fsyncs before the reply is written, so an acknowledged write is on disk.
    """

    def __init__(self, port: int, data_dir: Path, log_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.url = f"redis://127.0.0.1:{port}/0"
        # Simulated hosts (hosts.py) add the root side of their links before the start.
        self.binds = ["127.0.0.1"]
        self.crashes = 0
        self._service: Service | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [
            REDIS_BINARY, "--port", str(self.port), "--bind", *self.binds,
            "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "always",
            "--save", "", "--protected-mode", "no", "--daemonize", "no",
        ]

    def start(self) -> None:
        name = f"redis-{self.crashes}"
        self._service = Service(name, self.argv(), os.environ, self.log_dir)
        wait_until(self.ready, START_TIMEOUT_S, f"{name} to answer PING", poll_s=0.05)

    def ready(self) -> bool:
        """PING answers (and the AOF is loaded: PING fails with LOADING before that)."""
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def crash(self) -> None:
        """SIGKILL: no shutdown, no final flush. Only what was fsynced survives."""
        assert self._service is not None
        self._service.kill()
        self._service.stop()
        self.crashes += 1

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop(timeout=10)


class EmulatorProcess:
    """`python -m emulator` on a fixed port, so it can be stopped and started again there.

    Its request log lives in memory and starts empty on every start, so `collect()` keeps
    every record in `self.records` (in arrival order, across restarts) before a stop.
    """

    def __init__(self, port: int, token: str, log_dir: Path, latency_ms: float) -> None:
        self.port = port
        self.token = token
        self.log_dir = log_dir
        self.latency_ms = latency_ms
        self.url = f"http://127.0.0.1:{port}"
        self.client = EmulatorClient(self.url)
        self.also_listen: list[str] = []  # the root side of simulated hosts' links
        self.records: list[dict[str, Any]] = []
        self.starts = 0
        self._cursor = 0
        self._service: Service | None = None

    def start(self, faults: list[dict[str, Any]] | None = None) -> None:
        argv = python_argv("-m", "emulator", "--port", str(self.port),
                           "--token", self.token, "--latency-ms", str(self.latency_ms))
        for address in self.also_listen:
            argv += ["--also-listen", address]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._service = Service(f"emulator-{self.starts}", argv, env, self.log_dir)
        self.starts += 1
        self._cursor = 0
        self.client.wait_healthy(timeout=START_TIMEOUT_S)
        if faults:
            self.client.script(*faults)

    def collect(self) -> list[dict[str, Any]]:
        """Append the records not collected yet; return all of them."""
        fresh = self.client.requests(since=self._cursor)
        if fresh:
            self._cursor = fresh[-1]["seq"]
        self.records.extend(fresh)
        return self.records

    def answered(self, upto: int) -> bool:
        """True when every request up to seq `upto` has had its answer (or was closed)."""
        return all(r["status"] is not None or r["fault"] == "close"
                   for r in self.client.requests(since=self._cursor) if r["seq"] <= upto)

    def stop(self) -> None:
        """Stop so that no request goes unrecorded: see the comments below."""
        assert self._service is not None
        # Answer everything arriving from now on with a 503 named "drain": a send in the
        # gap between the last collect and the exit then creates no message, and the
        # worker records it as a transient failure we can tell apart (`error`).
        self.client.clear_faults()
        self.client.script({"kind": "respond", "status": 503, "name": "drain"})
        # Records are written on arrival and completed when answered: wait until every
        # request that came before the drain has its answer (later ones all get the drain;
        # with many jobs retrying there is always one of those in flight).
        seen = self.client.requests(since=self._cursor)
        upto = seen[-1]["seq"] if seen else self._cursor
        wait_until(lambda: self.answered(upto), 30, "in-flight requests to be answered")
        for record in self.collect():
            if record["status"] is None and record["seq"] > upto and not record["fault"]:
                record["fault"] = "in flight at stop"  # bound for the drain 503
        self._service.stop(timeout=10, sig=signal.SIGTERM)

    def shutdown(self) -> None:
        if self._service is not None and self._service.alive():
            self.collect()
            self._service.stop(timeout=10)
        self.client.close()


class Host(Protocol):
    """Where a worker runs: `hosts.SimulatedHost` (this machine when a pool has none)."""

    def run(self, argv: list[str], env: Mapping[str, str], log_dir: Path,
            name: str | None = None) -> Service: ...


class WorkerPool:
    """`celery -A worker worker` processes, each SIGKILL-able and restartable by index.

    `revive()` is the process supervisor every deployment has (compose `restart:`,
    systemd `Restart=`): a worker that exited on its own is started again, and its last
    error is kept in `exits` so the report can say so. With `hosts`, worker i runs on
    hosts[i % len(hosts)], and is restarted there.
    """

    def __init__(self, settings: Settings, count: int, log_dir: Path,
                 hosts: Sequence[Host] = ()) -> None:
        self.env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
        self.count = count
        self.log_dir = log_dir
        self.hosts = list(hosts)
        self.kills = 0
        self.exits: list[str] = []  # workers that died without being killed, and why
        self.peak_rss_mb: list[float] = []  # each worker's peak, read as it is stopped
        self.workers: list[Service | None] = [None] * count
        self._generation = [0] * count
        self._lock = threading.Lock()  # the fault thread and the supervisor both restart

    def start_all(self) -> None:
        for index in range(self.count):
            self.restart(index, wait=False)
        for index in range(self.count):
            self.wait_ready(index)

    def restart(self, index: int, *, wait: bool = True) -> Service:
        with self._lock:
            generation = self._generation[index]
            self._generation[index] += 1
            name = f"worker{index}-{generation}"
            argv = worker_argv("--loglevel", "INFO", "-n", f"{name}@%h")
            service = self._launch(index, name, argv)
            self.workers[index] = service
        if wait:
            self.wait_ready(index)
        return service

    def _launch(self, index: int, name: str, argv: list[str]) -> Service:
        if not self.hosts:
            return Service(name, argv, self.env, self.log_dir)
        return self.hosts[index % len(self.hosts)].run(argv, self.env, self.log_dir, name)

    def wait_ready(self, index: int) -> None:
        service = self.workers[index]
        assert service is not None
        wait_until(lambda: "ready." in service.log_text() or not service.alive(),
                   START_TIMEOUT_S, f"{service.name} to be ready", poll_s=0.1)
        if not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.log_text()[-3000:]}")

    def kill(self, index: int) -> None:
        """SIGKILL the worker's process group: no shutdown, no ack, sends cut mid-flight."""
        with self._lock:
            service = self.workers[index]
            if service is not None:
                service.kill()
                service.stop()  # closes its log file; the process is already gone
                self.kills += 1

    def pid(self, index: int) -> int | None:
        """The live process of worker `index` (None while it is dead)."""
        service = self.workers[index]
        return service.proc.pid if service is not None and service.alive() else None

    def kill_and_restart(self, index: int) -> None:
        self.kill(index)
        self.restart(index, wait=False)

    def revive(self) -> None:
        """Start again every worker that exited on its own; remember why it exited."""
        for index, service in enumerate(self.workers):
            if service is not None and not service.alive() and service.proc.returncode != -9:
                service.stop()
                self.exits.append(f"{service.name} exited ({service.proc.returncode}): "
                                  f"{last_error(service.log_text())}")
                self.restart(index, wait=False)

    def stop_all(self) -> None:
        for service in self.workers:
            if service is not None:
                if service.alive():
                    self.peak_rss_mb.append(peak_rss_mb(service.proc.pid))
                service.stop(timeout=20)


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), MiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def last_error(log: str) -> str:
    """The line a reader of a worker's log would look for first."""
    for marker in ("CRITICAL", "ERROR", "Traceback"):
        lines = [line for line in log.splitlines() if marker in line]
        if lines:
            return lines[-1][-240:]
    return "no error logged"
