"""The suite: each part runs every system it compares in the same session, interleaved.

Runs are interleaved (run 1 of every system, then run 2 of every system, ...) so a
burst of load from elsewhere on the machine hits all of them alike.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import backlog, capacity, e2e, enqueue, footprint, latency, memory, profile
from benchmarks.infra import Endpoint, RedisServer
from benchmarks.stats import figure
from benchmarks.systems import PEERS_0MS, PEERS_50MS, System, notify_relay

#: Every part, in the order they run (`--only` picks some).
PARTS = ("capacity", "e2e", "enqueue", "latency", "footprint", "backlog", "profile", "memory")

#: The latency part sizes its capacity burst to last about this long ...
BURST_S = 2.0
#: ... at the e2e part's speed, or at this speed when e2e did not run.
GUESS_PER_S = 150.0


@dataclass
class Plan:
    runs: int = 3
    # 3,000 at 50 ms too: at ~1,400 jobs/s, 1,500 jobs last ~1 s, where the ramp-up
    # (connections, threads) weighs on every system and the run-to-run spread is wide.
    n: dict[float, int] = field(default_factory=lambda: {0.0: 3000, 50.0: 3000})
    enqueue_n: int = 10_000
    capacity_n: int = 4000
    layouts: Sequence[str] = ("2x64", "2x64@enqueue", "1x64", "2x32", "2x128", "2x16:1")
    peers: bool = True
    paced_s: float = 6.0
    parts: Sequence[str] = ("capacity", "e2e", "enqueue", "latency", "footprint", "profile")
    footprint_n: int = 10_000
    #: jobs waiting in the backlog part (the issue's case, and a small reference)
    backlog_sizes: Sequence[int] = (1_000, 200_000)
    backlog_window_s: float = 20.0
    profile_n: int = 6000
    profile_s: float = 8.0
    memory_checkpoints: Sequence[int] = (10_000, 100_000)
    memory_layout: str = "2x64"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def repeat(runs: int, cases: Sequence[Any], name: Callable[[Any], str],
           once: Callable[[Any], dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every case `runs` times, interleaved; {case name: [run results]}."""
    results: dict[str, list[dict[str, Any]]] = {name(case): [] for case in cases}
    for i in range(runs):
        for case in cases:
            result = once(case)
            log(f"  run {i + 1}/{runs} {name(case)}: " + ", ".join(
                f"{k}={v:,.2f}" for k, v in result.items() if isinstance(v, float)))
            results[name(case)].append(result)
    return results


class Suite:
    def __init__(self, plan: Plan, out: Path, redis: RedisServer, endpoint: Endpoint) -> None:
        self.plan, self.out, self.redis, self.endpoint = plan, out, redis, endpoint
        self.logs = out / "logs"
        self.results: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        for part in PARTS:
            if part in self.plan.parts:
                log(f"== {part}")
                getattr(self, part)()
        return self.results

    def layouts(self) -> list[System]:
        return [notify_relay(layout) for layout in self.plan.layouts]

    def capacity(self) -> None:
        servers = {"emulator (python -m emulator)": lambda: capacity.emulator(
            self.plan.capacity_n),
            "benchmarks.endpoint": lambda: capacity.endpoint(self.plan.capacity_n,
                                                             self.endpoint)}
        self.results["capacity"] = repeat(self.plan.runs, list(servers), str,
                                          lambda name: servers[name]())

    def e2e(self) -> None:
        rows = []
        for latency_ms, n in self.plan.n.items():
            peers = (PEERS_0MS if latency_ms == 0 else PEERS_50MS) if self.plan.peers else ()
            systems = [*self.layouts(), *peers]
            log(f"-- {latency_ms:g} ms endpoint, N={n}")
            runs = repeat(self.plan.runs, systems, _label, partial(
                self._e2e_once, n=n, latency_ms=latency_ms))
            rows += [_row(s, latency_ms, n, runs[s.label]) for s in systems]
        self.results["e2e"] = rows

    def _e2e_once(self, system: System, n: int, latency_ms: float) -> dict[str, Any]:
        return e2e.run(system, n, latency_ms, self.redis, self.endpoint, self.logs)

    def enqueue(self) -> None:
        n = self.plan.enqueue_n
        runs = repeat(self.plan.runs, list(enqueue.CASES), str,
                      lambda case: enqueue.run(case, n, self.redis))
        self.results["enqueue"] = [{"case": c, "n": n, "runs": r} for c, r in runs.items()]

    def latency(self) -> None:
        rows = []
        for latency_ms in self.plan.n:
            systems = self._latency_layouts(latency_ms)
            bursts = {s.label: max(100, int(BURST_S * self._capacity(s, latency_ms)))
                      for s in systems}
            runs = repeat(self.plan.runs, systems, _label, partial(
                self._latency_once, bursts=bursts, latency_ms=latency_ms))
            rows += [_row(s, latency_ms, 0, runs[s.label]) for s in systems]
        self.results["latency"] = rows

    def _latency_once(self, system: System, bursts: dict[str, int],
                      latency_ms: float) -> dict[str, Any]:
        return latency.run(system, bursts[system.label], self.plan.paced_s, latency_ms,
                           self.redis, self.endpoint, self.logs)

    def _latency_layouts(self, latency_ms: float) -> list[System]:
        """The default layout and this run's fastest one at `latency_ms` (all without e2e)."""
        rows = [r for r in self.results.get("e2e", []) if r["family"] == "notify-relay"
                and r["latency_ms"] == latency_ms]
        if not rows:
            return self.layouts()
        best = max(rows, key=lambda r: figure(r["runs"], "jobs_per_s").median)
        layouts = dict.fromkeys([self.plan.layouts[0], best["layout"]])
        return [notify_relay(layout) for layout in layouts]

    def _capacity(self, system: System, latency_ms: float) -> float:
        """Median jobs/s of `system` in this session's e2e part (a guess without one)."""
        for row in self.results.get("e2e", []):
            if row["label"] == system.label and row["latency_ms"] == latency_ms:
                return figure(row["runs"], "jobs_per_s").median
        return GUESS_PER_S

    def profile(self) -> None:
        system = notify_relay(self.plan.layouts[0])
        result = profile.run(system, self.plan.profile_n, self.plan.profile_s, self.redis,
                             self.endpoint, self.out)
        self.results["profile"] = {"label": system.label, **result}

    def footprint(self) -> None:
        system = notify_relay(self.plan.layouts[0])
        ours = footprint.run(system, self.plan.footprint_n, self.redis, self.endpoint,
                             self.logs)
        peers = {p.label: footprint.peer(p, self.plan.footprint_n, self.redis)
                 for p in footprint.PEER_FAMILIES} if self.plan.peers else {}
        self.results["footprint"] = {"label": system.label, "n": self.plan.footprint_n,
                                     "notify-relay": ours, "peers": peers}

    def backlog(self) -> None:
        system = notify_relay(self.plan.layouts[0])
        runs = repeat(self.plan.runs, list(self.plan.backlog_sizes), lambda n: f"{n:,} waiting",
                      lambda n: backlog.run(system, n, self.plan.backlog_window_s, self.redis,
                                            self.endpoint, self.logs))
        self.results["backlog"] = {"label": system.label, "limit": backlog.RATE_LIMIT,
                                   "window_s": self.plan.backlog_window_s, "sizes": runs}

    def memory(self) -> None:
        system = notify_relay(self.plan.memory_layout)
        result = memory.run(system, list(self.plan.memory_checkpoints), self.redis,
                            self.endpoint, self.logs)
        self.results["memory"] = {"label": system.label, **result}


def _label(system: System) -> str:
    return system.label


def _row(system: System, latency_ms: float, n: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"label": system.label, "family": system.family, "pool": system.pool,
            "processes": system.processes, "threads": system.threads, "layout": system.layout,
            "concurrency": system.concurrency, "default": system.default,
            "latency_ms": latency_ms, "n": n, "runs": runs}
