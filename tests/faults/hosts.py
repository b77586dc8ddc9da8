"""Simulated hosts for the fault suite: worker processes in Linux network namespaces.

A `SimulatedHost` is a netns with a veth link to this machine (a /30: the root side is its
`gateway`, the netns side its `address`), its own hostname (a UTS namespace: `lease_owner`,
Celery's `%h` and the heartbeats name it) and an optional wall-clock offset (libfaketime:
faketime.py). The machine's Redis and emulator listen on 127.0.0.1 and on every gateway; a
process on a host reaches them at its gateway (`host.run()` rewrites 127.0.0.1 URLs in its
environment). Faults, in the host's netns with iptables: `cut_redis()` / `heal_redis()` (the
Redis port only), `cut_all()` / `heal_all()` (every packet, both ways: a lost host). The
processes are `notify_relay.processes.Service`s: kill and stop reach their real process.

`HostScenario` is a `runner.Scenario` whose workers run on hosts (worker i on host
i % hosts; `s.on(host)` lists them; `s.cut_mid_send(host, host.cut_all)` cuts a host while
its sends are open at the endpoint). The scenarios on it are test_hosts_scenarios.py: a
host cut off from Redis past the visibility timeout, then healed; a host lost mid-send for
good; hosts whose clocks are off; one rate limit across hosts.

A scenario that cannot have hosts (not root, no `ip`) is skipped; with CI set it fails.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import redis

from notify_relay.processes import Service, python_argv
from tests.faults import faketime, netns
from tests.faults.cluster import WorkerPool
from tests.faults.reconcile import Reconciliation
from tests.faults.runner import KILL_WAIT_S, Plan, Scenario

#: Sets the UTS namespace's hostname, then becomes the command: `ip netns exec`, `unshare`
#: and `exec` replace the process without forking, so Popen's pid is the command's own.
SET_HOSTNAME = 'hostname "$1" && shift && exec "$@"'
REDIS_PING = ("import sys, redis; t = float(sys.argv[2]); redis.Redis.from_url(sys.argv[1], "
              "socket_timeout=t, socket_connect_timeout=t).ping()")
HTTP_GET = ("import sys, urllib.request; "
            "urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read()")
IP = shutil.which("ip") or "/usr/sbin/ip"
_run: netns.Run | None = None
_open: set[SimulatedHost] = set()


def current_run() -> netns.Run:
    """This process's run (created once: it sweeps dead runs' leftovers first)."""
    global _run
    if _run is None:
        _run = netns.Run()
    return _run


class HostService(Service):
    """A `Service` started inside a host; a lost host's processes are killed, not drained."""

    def __init__(self, name: str, host: SimulatedHost, argv: list[str],
                 env: Mapping[str, str], log_dir: Path) -> None:
        self.host = host
        super().__init__(name, host.wrap(argv), host.reach(env), log_dir)

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> int:
        if self.host.isolated:  # it could not finish or report anything: don't wait for it
            sig = signal.SIGKILL
        return super().stop(timeout, sig)

    def in_host(self) -> bool:
        """The process (Popen's pid: what stop() and kill() signal) is in the host's netns."""
        try:
            return os.stat(f"/proc/{self.proc.pid}/ns/net").st_ino == self.host.link.netns_inode()
        except FileNotFoundError:
            return False


class SimulatedHost:
    def __init__(self, name: str, index: int, *, redis_port: int | None = None,
                 clock_offset_s: float = 0.0) -> None:
        self.name = name
        self.index = index
        self.redis_port = redis_port  # what cut_redis() cuts
        self.clock_offset_s = clock_offset_s  # for processes started from now on
        self.isolated = False  # cut_all() and not healed
        self._link: netns.Link | None = None
        # Set by open() and kept after close(), for a test's checks and reports.
        self.hostname = self.gateway = self.address = ""

    # --- life ---

    def open(self) -> Self:
        run = current_run()
        self.hostname = f"{self.name}-{run.id}"
        self._link = run.create(str(self.index), self.hostname)
        self.gateway, self.address = self._link.gateway, self._link.address
        _open.add(self)
        return self

    def close(self) -> None:
        """Kill what runs there, remove the netns, the link and its files. Idempotent."""
        link, self._link = self._link, None
        _open.discard(self)
        if link is not None:
            netns.remove(link.netns, link.root_if)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def link(self) -> netns.Link:
        if self._link is None:
            raise RuntimeError(f"host {self.name} is not open")
        return self._link

    # --- processes ---

    def wrap(self, argv: Sequence[str]) -> list[str]:
        # `ip` by its path: a process's env (hence its PATH) may be anything, even empty.
        return [IP, "netns", "exec", self.link.netns, "unshare", "--uts", "--",
                "sh", "-c", SET_HOSTNAME, "sh", self.hostname,
                *faketime.env_argv(self.clock_offset_s), *argv]

    def url(self, url: str) -> str:
        """`url` as seen from the host: the machine's loopback is its gateway."""
        return url.replace("//127.0.0.1:", f"//{self.gateway}:")

    def reach(self, env: Mapping[str, str]) -> dict[str, str]:
        # The endpoint is the test's emulator over the veth: plain http to a host that is
        # not loopback, which the settings refuse unless told it is on purpose.
        return {**{key: self.url(value) for key, value in env.items()},
                "NOTIFY_ALLOW_PLAIN_HTTP": "true"}

    def run(self, argv: list[str], env: Mapping[str, str], log_dir: Path,
            name: str | None = None) -> HostService:
        return HostService(name or f"{self.name}-{Path(argv[0]).name}", self, argv, env,
                           log_dir)

    def pids(self) -> list[int]:
        """Every process in the host's netns."""
        return [int(pid) for pid in netns.sh("ip", "netns", "pids", self.link.netns).split()]

    def exec(self, argv: Sequence[str], timeout_s: float = 30.0) -> subprocess.CompletedProcess:
        """A short command inside the host, to its end; its output captured."""
        return subprocess.run(self.wrap(argv), env=self.reach(os.environ), capture_output=True,
                              text=True, timeout=timeout_s)

    def redis_answers(self, url: str, timeout_s: float = 1.0) -> bool:
        """A redis-py PING from inside the host, to the machine's `url`."""
        return self.exec(python_argv("-c", REDIS_PING, self.url(url), str(timeout_s)),
                         timeout_s + 20).returncode == 0

    def http_answers(self, url: str, timeout_s: float = 2.0) -> bool:
        return self.exec(python_argv("-c", HTTP_GET, self.url(url), str(timeout_s)),
                         timeout_s + 20).returncode == 0

    # --- faults (iptables in the host's netns; gone with it) ---

    def _redis_rules(self, port: int | None) -> list[tuple[str, ...]]:
        port = port or self.redis_port
        if port is None:
            raise ValueError(f"host {self.name}: no Redis port to cut")
        return [("nr-out", "-o", self.link.host_if, "-p", "tcp", "--dport", str(port)),
                ("nr-in", "-i", self.link.host_if, "-p", "tcp", "--sport", str(port))]

    def _all_rules(self) -> list[tuple[str, ...]]:
        return [("nr-out", "-o", self.link.host_if), ("nr-in", "-i", self.link.host_if)]

    def cut_redis(self, port: int | None = None) -> None:
        self.link.drop(self._redis_rules(port))

    def heal_redis(self, port: int | None = None) -> None:
        self.link.undrop(self._redis_rules(port))

    def cut_all(self) -> None:
        self.isolated = True
        self.link.drop(self._all_rules())

    def heal_all(self) -> None:
        """Every cut undone (Redis too)."""
        self.link.iptables("-F", "nr-out")
        self.link.iptables("-F", "nr-in")
        self.isolated = False


_unavailable: list[str | None] = []  # the one answer of this process, once known


def unavailable() -> str | None:
    """Why simulated hosts cannot be made here, or None. Checked once, by making one."""
    if not _unavailable:
        reason = netns.unavailable()
        if reason is None:
            try:
                probe = current_run().create("probe", "probe")
                netns.remove(probe.netns, probe.root_if)
            except (OSError, netns.NetnsError, subprocess.SubprocessError) as exc:
                reason = f"cannot create a network namespace: {exc}"
        _unavailable.append(reason)
    return _unavailable[0]


class HostScenario(Scenario):
    """A `Scenario` whose workers run on `hosts` simulated hosts: worker i on host i % hosts.

    The hosts are made when the run starts (Redis and the emulator then listen on every
    gateway too) and removed when it ends, after the workers are stopped.
    """

    def __init__(self, plan: Plan, workdir: Path, hosts: int = 2, *,
                 clock_offsets_s: Sequence[float] = (), **settings: Any) -> None:
        super().__init__(plan, workdir)
        offsets = [*clock_offsets_s, *[0.0] * hosts]
        self.hosts = [SimulatedHost(f"host{i}", i, redis_port=self.redis.port,
                                    clock_offset_s=offsets[i]) for i in range(hosts)]
        self.settings = self.settings.replace(**settings)  # e.g. rate_limit="50/s"
        self.workers = WorkerPool(self.settings, plan.workers, workdir / "logs", self.hosts)

    def on(self, host: SimulatedHost) -> list[int]:
        """The indices (in `self.workers`) of the workers that run on `host`."""
        return [i for i in range(self.plan.workers) if self.hosts[i % len(self.hosts)] is host]

    def cut_mid_send(self, host: SimulatedHost, cut: Callable[[], None],
                     at_least: int = 1) -> None:
        """`cut` (`host.cut_redis`, `host.cut_all`) once `at_least` POSTs of `host`'s workers
        are open at the endpoint (waiting up to KILL_WAIT_S); the jobs it caught, still
        claimed by those workers after the cut, go to `caught`."""
        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=5)
        # Only sends young enough to be still open once the cut is in place count (the look
        # takes a while on a busy machine; a cut takes ~20 ms).
        young_s = self.plan.latency_ms / 1000 / 2
        try:
            deadline = time.monotonic() + KILL_WAIT_S
            while time.monotonic() < deadline and not self._stop.is_set():
                by_worker = self._open_sends_by_worker(client, young_s)
                open_jobs = [job for i in self.on(host) for job in by_worker.get(i, [])]
                if len(open_jobs) >= at_least:
                    pids = {self.workers.pid(i) for i in self.on(host)}
                    cut()
                    held = self._holder_pids(client, open_jobs)
                    caught = [j for j, pid in zip(open_jobs, held, strict=True) if pid in pids]
                    self.notes.append(f"the cut of {host.name} caught {len(caught)} job(s) "
                                      "mid-send")
                    self.caught += caught
                    return
                time.sleep(0.01)
        finally:
            client.close()
        raise RuntimeError(f"{host.name} never had {at_least} send(s) open at the endpoint "
                           f"in {KILL_WAIT_S:g}s")

    def run(self) -> Reconciliation:
        try:
            return super().run()
        finally:
            self.close()

    def _start(self) -> None:
        for host in self.hosts:
            host.open()
        gateways = [host.gateway for host in self.hosts]
        self.redis.binds = ["127.0.0.1", *gateways]
        self.emulator.also_listen = gateways
        super()._start()

    def close(self) -> None:
        for host in self.hosts:
            host.close()


@atexit.register
def close_all() -> None:
    """Whatever a test left open (the fixtures close their own; this is the last resort)."""
    for host in list(_open):
        host.close()
    if _run is not None:
        _run.release()
