"""A Redis under Sentinel on loopback: one primary, replicas and sentinels of our own.

    cluster = SentinelCluster(tmp_path)      # 1 primary, 2 replicas, 3 sentinels, free ports
    cluster.start()                          # returns once every sentinel sees all of them
    cluster.url                              # sentinel://:secret@127.0.0.1:p1/0;sentinel://...
    old = cluster.kill_primary()             # SIGKILL: no shutdown, no last word to replicas
    new = cluster.wait_failover(old)         # polls the sentinels until they name another
    cluster.stop()

Never the shared Redis on 6379. Every start waits on a real signal (PING, the replication
link, what the sentinels report) with a deadline. The data nodes keep nothing on disk: the
question is what the replicas hold when the primary dies, not what a restart reloads.
Sentinel's timings are short so a failover takes a few seconds: the primary is judged
down after `DOWN_AFTER_MS` without an answer. The nodes run as the README recommends, with
`min-replicas-to-write 1`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import redis

from notify_relay.processes import Service, free_port, wait_until

PASSWORD = "secret"
MASTER = "nrmaster"
START_TIMEOUT_S = 30.0
#: Sentinel calls the primary down after this long without an answer (its own default:
#: 30 s). Measured with 1 s: in 1 run of 6 the leading sentinel called the primary it had
#: just promoted down one ping period after the switch and failed over a second time; the
#: interim primary, still taking writes from clients connected to it, lost 379 acknowledged
#: jobs when it was made a replica (README, "High availability with Sentinel"). 3 s is
#: three missed pings.
DOWN_AFTER_MS = 3000
#: A primary that has heard from no replica for this long refuses writes (NOREPLICAS):
#: an interim primary cut off from its replicas stops acknowledging what it would lose.
MIN_REPLICAS_MAX_LAG_S = 2
FAILOVER_TIMEOUT_MS = 10_000


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: CI must provide it")
        pytest.skip("redis-server is not installed")
    return binary


class SentinelCluster:
    def __init__(self, workdir: Path, *, replicas: int = 2, sentinels: int = 3) -> None:
        self.workdir = workdir
        self.log_dir = workdir / "logs"
        self.binary = redis_binary()
        self.node_ports = [free_port() for _ in range(1 + replicas)]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.nodes: dict[int, Service] = {}
        self.sentinels: list[Service] = []
        self.killed_at: float | None = None

    @property
    def url(self) -> str:
        first, *rest = self.sentinel_ports
        return ";".join([f"sentinel://:{PASSWORD}@127.0.0.1:{first}/0",
                         *(f"sentinel://127.0.0.1:{port}" for port in rest)])

    def start(self) -> None:
        primary, *replicas = self.node_ports
        self._start_node(primary)
        for port in replicas:
            self._start_node(port, "--replicaof", "127.0.0.1", str(primary))
        # `online` on the primary's side: after a diskless sync a replica counts for WAIT
        # only from its first REPLCONF ACK, up to a second after its own link is up.
        wait_until(lambda: self._online(primary) == len(replicas), START_TIMEOUT_S,
                   "the replicas to be online")
        for port in self.sentinel_ports:
            self._start_sentinel(port, primary)
        wait_until(self._sentinels_agree, START_TIMEOUT_S,
                   "every sentinel to see the primary, its replicas and the other sentinels")

    def _start_node(self, port: int, *args: str) -> None:
        data = self.workdir / f"node-{port}"
        data.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(data), "--requirepass", PASSWORD,
                "--masterauth", PASSWORD, "--repl-diskless-sync", "yes",
                "--repl-diskless-sync-delay", "0", "--min-replicas-to-write", "1",
                "--min-replicas-max-lag", str(MIN_REPLICAS_MAX_LAG_S), *args]
        self.nodes[port] = Service(f"redis-{port}", argv, os.environ, self.log_dir)
        wait_until(lambda: self._answers(port), START_TIMEOUT_S, f"redis on {port} to answer")

    def _start_sentinel(self, port: int, primary: int) -> None:
        conf = self.workdir / f"sentinel-{port}.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n"
            f"sentinel auth-pass {MASTER} {PASSWORD}\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 2\n")
        self.sentinels.append(Service(f"sentinel-{port}", [self.binary, str(conf),
                                                           "--sentinel"],
                                      os.environ, self.log_dir))

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=PASSWORD, socket_timeout=2,
                           socket_connect_timeout=2)

    def _answers(self, port: int) -> bool:
        with self.node(port) as client:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

    def _online(self, port: int) -> int:
        with self.node(port) as client:
            info = client.info("replication")
        return sum(1 for key, value in info.items() if key.startswith("slave")
                   and isinstance(value, dict) and value.get("state") == "online")

    def _sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2,
                           decode_responses=True)

    def _sentinels_agree(self) -> bool:
        replicas = len(self.node_ports) - 1
        for port in self.sentinel_ports:
            with self._sentinel(port) as client:
                try:
                    state = client.sentinel_master(MASTER)
                except redis.RedisError:
                    return False
            if (int(state["num-slaves"]) < replicas
                    or int(state["num-other-sentinels"]) < len(self.sentinel_ports) - 1):
                return False
        return True

    def primary_port(self) -> int | None:
        """The port the sentinels' majority names as the primary (None if none answers)."""
        named = []
        for port in self.sentinel_ports:
            with self._sentinel(port) as client:
                try:
                    address = client.sentinel_get_master_addr_by_name(MASTER)
                except redis.RedisError:
                    continue
            if address:
                named.append(int(address[1]))
        if not named:
            return None
        return max(set(named), key=named.count)

    def kill_primary(self) -> int:
        """SIGKILL the primary; its port."""
        port = self.primary_port()
        assert port is not None, "no sentinel names a primary"
        self.nodes[port].kill()
        self.killed_at = time.monotonic()
        return port

    def wait_failover(self, old: int, timeout_s: float = 30.0) -> int:
        """Until every sentinel names another primary and it takes writes; its port."""
        def switched() -> bool:
            ports = set()
            for port in self.sentinel_ports:
                with self._sentinel(port) as client:
                    try:
                        ports.add(int(client.sentinel_get_master_addr_by_name(MASTER)[1]))
                    except (redis.RedisError, TypeError):
                        return False
            return len(ports) == 1 and old not in ports and self._is_primary(ports.pop())

        wait_until(switched, timeout_s, "the sentinels to promote a replica", poll_s=0.05)
        new = self.primary_port()
        assert new is not None
        return new

    def _is_primary(self, port: int) -> bool:
        with self.node(port) as client:
            try:
                return client.info("replication").get("role") == "master"
            except redis.RedisError:
                return False

    def stop(self) -> None:
        for service in [*self.sentinels, *self.nodes.values()]:
            service.stop(timeout=10)
