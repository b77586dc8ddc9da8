"""Fixtures of the fault-injection suite, and the reconciliation reports in pytest's summary.

Every scenario starts its own `redis-server` (AOF on, a free port, a data dir under the
test's tmp dir), so the shared Redis on 6379 is never touched: it cannot be crashed, and
nothing there is flushed. Each report is written to `<tmp>/reconciliation.txt` and shown
in the terminal summary ("fault-injection reconciliation"), with or without `-s`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.cluster import REDIS_BINARY
from tests.faults.hosts import HostScenario, SimulatedHost, unavailable
from tests.faults.reconcile import Reconciliation, dump
from tests.faults.runner import Plan, Scenario

REPORTS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORTS] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = terminalreporter.config.stash.get(REPORTS, [])
    if reports:
        terminalreporter.section("fault-injection reconciliation")
        for text in reports:
            terminalreporter.write_line(text)
            terminalreporter.write_line("")


ScenarioFactory = Callable[[Plan], Scenario]


@pytest.fixture
def scenario(tmp_path: Path) -> ScenarioFactory:
    if shutil.which(REDIS_BINARY) is None:
        pytest.fail(f"the fault suite needs {REDIS_BINARY} to start its own Redis")

    def build(plan: Plan) -> Scenario:
        return Scenario(plan, tmp_path)

    return build


@pytest.fixture
def publish(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Reconciliation], str]:
    """Keep a scenario's report: in the tmp dir, and for the terminal summary."""

    def keep(result: Reconciliation) -> str:
        text = result.report()
        (tmp_path / "reconciliation.txt").write_text(text + "\n")
        if result.failing:
            (tmp_path / "failing-jobs.jsonl").write_text(dump(result) + "\n")
            text += f"\n(full evidence: {tmp_path / 'failing-jobs.jsonl'}, logs: {tmp_path})"
        request.config.stash[REPORTS].append(text)
        return text

    return keep


def require_hosts() -> None:
    """Skip where network namespaces cannot be made (checked once); in CI, fail instead."""
    if shutil.which(REDIS_BINARY) is None:
        pytest.fail(f"the fault suite needs {REDIS_BINARY} to start its own Redis")
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"simulated hosts are unavailable, and CI must run them: {reason}")
    pytest.skip(f"simulated hosts need network namespaces: {reason}")


@pytest.fixture
def simulated_host() -> Iterator[Callable[..., SimulatedHost]]:
    """`simulated_host(name, index, **kwargs)` opens a host; all are removed at teardown."""
    require_hosts()
    opened: list[SimulatedHost] = []

    def open_host(name: str, index: int, **kwargs: Any) -> SimulatedHost:
        host = SimulatedHost(name, index, **kwargs)
        opened.append(host)
        return host.open()

    yield open_host
    for host in opened:
        host.close()


@pytest.fixture
def host_scenario(tmp_path: Path) -> Iterator[Callable[..., HostScenario]]:
    """`host_scenario(plan, hosts=2, **kwargs)`: a `HostScenario`; its hosts removed at
    teardown even if `run()` never ran or never returned."""
    require_hosts()
    built: list[HostScenario] = []

    def build(plan: Plan, hosts: int = 2, **kwargs: Any) -> HostScenario:
        built.append(HostScenario(plan, tmp_path, hosts, **kwargs))
        return built[-1]

    yield build
    for scenario in built:
        scenario.close()
