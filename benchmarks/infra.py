"""What every run stands on: a private redis-server and the benchmark endpoint.

The suite never touches the shared Redis on 6379: it starts its own
`redis-server --save "" --appendonly no` on a free port and flushes it between runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis

from benchmarks.body import TOKEN
from notify_relay.processes import free_port, wait_until


class RedisServer:
    """A throw-away redis-server; `url` is db 0 on it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: the benchmarks start their own")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self._dir]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.client = redis.Redis.from_url(self.url)
        wait_until(self._answers, 10, f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.ConnectionError:
            return False

    def flush(self) -> None:
        self.client.flushall()

    def reset_stats(self) -> None:
        self.client.config_resetstat()

    def command_calls(self) -> dict[str, int]:
        """Calls per command since the last reset (commands run by scripts included)."""
        stats = self.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}

    def cpu_seconds(self) -> float:
        """The server's user + system CPU so far (INFO cpu): Lua scripts run in it."""
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def stop(self) -> None:
        self.client.close()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Endpoint:
    """`python -m benchmarks.endpoint` in a child process (its own GIL and core share)."""

    READY = "endpoint listening on "

    def __init__(self) -> None:
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Self:
        argv = [sys.executable, "-m", "benchmarks.endpoint", "--port", "0", "--token", TOKEN]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                                     cwd=Path(__file__).resolve().parent.parent)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(self.READY):
            raise RuntimeError(f"benchmark endpoint did not start: {line!r}")
        self.url = line[len(self.READY) :].strip()
        self.pid = self.proc.pid
        return self

    def reset(self, latency_ms: float) -> None:
        _call(f"{self.url}/_reset", {"latency_ms": latency_ms})

    def stats(self) -> dict[str, Any]:
        return _call(f"{self.url}/_stats")

    def arrivals(self) -> dict[str, float]:
        return _call(f"{self.url}/_arrivals")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)
