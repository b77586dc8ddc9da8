"""How many notify requests per second an endpoint answers on this machine.

The client is `emulator.bench` (pooled `requests.Session`s in 2 processes x 8
threads, so the client is not one GIL). Measured for the emulator (the project's
faithful stand-in) and for `benchmarks.endpoint` (what the end-to-end runs use), so
the table shows whether the endpoint could have been the bottleneck. On two cores the
client saturates first, so the server's own CPU per request is the telling figure: one
core's worth of it is `1000 / cpu_ms_per_job` requests per second.
"""

from __future__ import annotations

from typing import Any

from benchmarks import procstats
from benchmarks.body import TOKEN
from benchmarks.infra import Endpoint
from emulator import bench
from emulator.process import EmulatorProcess

CLIENT_PROCESSES = 2
CLIENT_THREADS = 8


def emulator(requests: int) -> dict[str, Any]:
    with EmulatorProcess("--token", TOKEN, "--no-record-bodies") as emu:
        assert emu.proc is not None
        return _measure(emu.url, requests, emu.proc.pid)


def endpoint(requests: int, shared: Endpoint) -> dict[str, Any]:
    shared.reset(0)
    return _measure(shared.url, requests, shared.pid)


def _measure(url: str, requests: int, server_pid: int) -> dict[str, Any]:
    before = procstats.cpu_seconds([server_pid])
    result = bench.run(url, requests, CLIENT_THREADS, CLIENT_PROCESSES)
    cpu_ms = 1000 * (procstats.cpu_seconds([server_pid]) - before) / requests
    if result["errors"]:
        raise RuntimeError(f"{result['errors']:g} failed requests against {url}")
    return {"jobs_per_s": result["rps"], "p99_ms": result["p99_ms"], "cpu_ms_per_job": cpu_ms,
            "one_core_per_s": 1000 / cpu_ms if cpu_ms else float("inf")}
