"""Results → `results.md`: the tables, the goals with their ratios, the profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from benchmarks.stats import Figure, figure


def markdown(results: dict[str, Any], meta: dict[str, Any]) -> str:
    parts = [_header(meta)]
    for name, render in (("e2e", _e2e), ("e2e", _goals), ("enqueue", _enqueue),
                         ("latency", _latency), ("footprint", _footprint),
                         ("backlog", _backlog), ("capacity", _capacity),
                         ("profile", _profile), ("memory", _memory)):
        if name in results:
            parts.append("\n".join(render(results)))
    return "\n\n".join(parts) + "\n"


def _header(meta: dict[str, Any]) -> str:
    lines = [f"# notify-relay benchmarks, {meta['started']}", ""]
    lines += [f"* {key}: {value}" for key, value in meta.items() if key != "started"]
    lines.append("* each figure: median of the runs, (min–max) when more than one")
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[str]]) -> Iterator[str]:
    yield "| " + " | ".join(head) + " |"
    yield "|" + "|".join("---" for _ in head) + "|"
    for row in rows:
        yield "| " + " | ".join(row) + " |"


def _default(rows: list[dict[str, Any]], latency_ms: float) -> dict[str, Any] | None:
    return next((r for r in rows if r["family"] == "notify-relay" and r["default"]
                 and r["latency_ms"] == latency_ms), None)


def _redis_cpu(row: dict[str, Any]) -> str:
    """Redis's own CPU per job (Lua scripts run there); older results have none."""
    if not all("redis_cpu_ms_per_job" in run for run in row["runs"]):
        return ""
    return figure(row["runs"], "redis_cpu_ms_per_job").text(".2f")


def _e2e(results: dict[str, Any]) -> Iterator[str]:
    rows = results["e2e"]
    yield "## End to end: N jobs pre-enqueued, steady jobs/s at the endpoint"
    for latency_ms in sorted({r["latency_ms"] for r in rows}):
        group = [r for r in rows if r["latency_ms"] == latency_ms]
        base = _default(rows, latency_ms)
        ref = figure(base["runs"], "jobs_per_s") if base else None
        yield f"\n### {latency_ms:g} ms endpoint latency, N = {group[0]['n']:,}\n"
        table = []
        for r in group:
            speed = figure(r["runs"], "jobs_per_s")
            table.append([r["label"], str(r["concurrency"]), speed.text(),
                          f"{ref.ratio(speed):.2f}x" if ref else "",
                          figure(r["runs"], "cpu_ms_per_job").text(".2f"),
                          figure(r["runs"], "peak_rss_mb").text(".0f"),
                          figure(r["runs"], "redis_commands_per_job").text(".1f"),
                          _redis_cpu(r),
                          figure(r["runs"], "wall_s").text(".1f")])
        yield from _table(["system", "threads", "jobs/s", "notify-relay default ÷ this",
                           "CPU ms/job", "peak RSS MiB/process", "Redis cmds/job",
                           "Redis CPU ms/job", "wall s (with start-up)"], table)
    yield from _redis_calls(rows)


def _redis_calls(rows: list[dict[str, Any]]) -> Iterator[str]:
    """Which Redis commands each system issues per job (0 ms runs, first run of each)."""
    first = [r for r in rows if r["latency_ms"] == min(x["latency_ms"] for x in rows)]
    per = {r["label"]: r["runs"][0]["redis_calls_per_job"] for r in first}
    names = sorted({c for calls in per.values() for c, v in calls.items() if v >= 0.05})
    yield "\nRedis commands per job by command (first run at the lowest latency):\n"
    yield from _table(["command", *per], [[c, *(f"{per[s].get(c, 0):.2f}" for s in per)]
                                          for c in names])


def _speed(rows: list[dict[str, Any]], latency_ms: float, label: str) -> Figure | None:
    row = next((r for r in rows if r["latency_ms"] == latency_ms and r["label"] == label), None)
    return figure(row["runs"], "jobs_per_s") if row else None


def best_layout(rows: list[dict[str, Any]], latency_ms: float) -> dict[str, Any] | None:
    ours = [r for r in rows if r["family"] == "notify-relay" and r["latency_ms"] == latency_ms]
    return max(ours, key=lambda r: figure(r["runs"], "jobs_per_s").median, default=None)


GOAL_RSS_MIB = 60.0
#: Redis commands per job at most, by enqueue path (the default layout's runs)
GOAL_COMMANDS = {"enqueue_many": 12.0, "enqueue": 15.0}
GOAL_QUEUED_BYTES, GOAL_FINISHED_BYTES = 1500, 500

GOALS = (  # (latency ms, peer label, target ratio or None: report only)
    (50.0, "dramatiq 2x64 threads", 1.0),
    (0.0, "dramatiq 2x8 threads", 1.0),
    (50.0, "celery prefork x2 (default)", None),
    (0.0, "celery prefork x2 (default)", None),
)


def _defaults(rows: list[dict[str, Any]], latency_ms: float) -> list[dict[str, Any]]:
    """The default layout's rows at `latency_ms`: one per enqueue path."""
    return [r for r in rows if r["family"] == "notify-relay" and r["default"]
            and r["latency_ms"] == latency_ms]


def _goals(results: dict[str, Any]) -> Iterator[str]:
    rows = results["e2e"]
    table = []
    for latency_ms, peer, target in GOALS:
        theirs = _speed(rows, latency_ms, peer)
        candidates = [*_defaults(rows, latency_ms), best_layout(rows, latency_ms)]
        for ours in {id(c): c for c in candidates if c}.values():
            if theirs is None:
                continue
            ratio = figure(ours["runs"], "jobs_per_s").ratio(theirs)
            table.append([f"{latency_ms:g} ms", f"{ours['label']} ÷ {peer}", f"{ratio:.2f}x",
                          f"≥ {target:g}x" if target else "(report)",
                          _verdict(ratio >= target) if target else ""])
    for ours in _defaults(rows, min((r["latency_ms"] for r in rows), default=0.0)):
        path = "enqueue" if "enqueue path" in ours["label"] else "enqueue_many"
        commands = figure(ours["runs"], "redis_commands_per_job").median
        table.append(["0 ms", f"Redis commands per job, {path} path", f"{commands:.1f}",
                      f"≤ {GOAL_COMMANDS[path]:g}", _verdict(commands <= GOAL_COMMANDS[path])])
    if table:
        yield "## Goals (ratios of medians from this run)\n"
        yield from _table(["endpoint", "comparison", "figure", "goal", ""], table)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _footprint(results: dict[str, Any]) -> Iterator[str]:
    f = results["footprint"]
    yield (f"## Redis bytes per job (used_memory over {f['n']:,} jobs; MEMORY USAGE of one "
           f"record)\n")
    table = []
    for path, m in f["notify-relay"].items():
        table.append([f"notify-relay, {path}", f"{m['queued_bytes_per_job']:,.0f}",
                      f"{m['queued_record_bytes']:,}",
                      f"{m['finished_bytes_per_job']:,.0f}", f"{m['finished_record_bytes']:,}",
                      _verdict(m["queued_bytes_per_job"] <= GOAL_QUEUED_BYTES
                               and m["finished_bytes_per_job"] <= GOAL_FINISHED_BYTES)])
    for label, m in f["peers"].items():
        table.append([label, f"{m['queued_bytes_per_job']:,.0f}", "", "0 (keeps nothing)",
                      "", ""])
    yield from _table(["system", "queued B/job", "queued record B", "finished B/job",
                       "finished record B",
                       f"goal ≤ {GOAL_QUEUED_BYTES:,} / ≤ {GOAL_FINISHED_BYTES}"], table)


def _backlog(results: dict[str, Any]) -> Iterator[str]:
    b = results["backlog"]
    yield (f"## A backlog at {b['limit']}: {b['label']}, urgent jobs one a second for "
           f"{b['window_s']:g} s\n")
    table = []
    for size, runs in b["sizes"].items():
        table.append([size, figure(runs, "sends_per_s").text(".1f"),
                      figure(runs, "redis_cpu_ms_per_s").text(".1f"),
                      figure(runs, "stats_p50_ms").text(".2f"),
                      figure(runs, "stats_p99_ms").text(".2f"),
                      figure(runs, "stats_command_ms").text(".0f"),
                      figure(runs, "urgent_p50_ms").text(".0f"),
                      figure(runs, "urgent_p99_ms").text(".0f"),
                      figure(runs, "redis_bytes_per_waiting_job").text(",.0f")])
    yield from _table(["jobs waiting", "sends/s", "Redis CPU ms/s", "stats p50 ms",
                       "stats p99 ms", "`stats --json` command ms", "urgent wait p50 ms",
                       "urgent wait p99 ms (bound 1,000)", "Redis B/waiting job"], table)


def _enqueue(results: dict[str, Any]) -> Iterator[str]:
    rows = results["enqueue"]
    speeds = {r["case"]: figure(r["runs"], "jobs_per_s") for r in rows}
    ours = speeds.get("notify-relay enqueue_many")
    yield f"## Enqueue from one process, N = {rows[0]['n']:,}, validation included\n"
    yield from _table(["case", "jobs/s", "enqueue_many ÷ this"],
                      [[case, s.text(), f"{ours.ratio(s):.2f}x" if ours else ""]
                       for case, s in speeds.items()])


def _latency(results: dict[str, Any]) -> Iterator[str]:
    yield ("## Enqueue → POST latency, paced at half the capacity measured just before "
           "(same workers, a burst)\n")
    table = []
    for r in results["latency"]:
        p99 = figure(r["runs"], "p99_ms")
        budget = 100 + r["latency_ms"]
        table.append([r["label"], f"{r['latency_ms']:g} ms",
                      figure(r["runs"], "rate_per_s").text(),
                      figure(r["runs"], "p50_ms").text(".1f"), p99.text(".1f"),
                      figure(r["runs"], "max_ms").text(".0f"),
                      f"< {budget:g}: {'met' if p99.median < budget else 'NOT met'}"])
    yield from _table(["system", "endpoint", "pace jobs/s", "p50 ms", "p99 ms", "max ms",
                       "goal p99 ms"], table)


def _capacity(results: dict[str, Any]) -> Iterator[str]:
    yield ("## Endpoint capacity (client: 2 processes x 8 threads of requests; on 2 cores "
           "the client is the limit, so the server's CPU per request matters)\n")
    table = [[name, figure(runs, "jobs_per_s").text(), figure(runs, "cpu_ms_per_job").text(".3f"),
              figure(runs, "one_core_per_s").text()] for name, runs in results["capacity"].items()]
    yield from _table(["server", "requests/s", "server CPU ms/request",
                       "one core's worth, requests/s"], table)


def _profile(results: dict[str, Any]) -> Iterator[str]:
    p = results["profile"]
    cpu = p["cpu_ms_per_job"]
    yield (f"## Where the CPU goes: {p['label']}, 0 ms endpoint\n\n"
           f"py-spy (GIL holder, {p['samples']:,} samples, {p['jobs']:,} jobs, "
           f"{cpu:.2f} ms CPU/job while sampled). ms/job = share x CPU/job.\n")
    for title, key in (("By step (innermost step frame)", "steps"),
                       ("By package (innermost frame)", "packages"),
                       ("Hot spots (anywhere in the stack)", "hot_spots"),
                       ("Top functions (innermost frame)", "top_functions")):
        yield f"\n{title}:\n"
        yield from _table(["", "share", "ms/job"],
                          [[name.replace("|", "/"), f"{share:.1%}", f"{share * cpu:.2f}"]
                           for name, share in p[key].items() if share >= 0.005])


def _memory(results: dict[str, Any]) -> Iterator[str]:
    m = results["memory"]
    yield f"## Memory: {m['label']}, 0 ms endpoint\n"
    table = [[f"{int(jobs):,}", ", ".join(f"{x:.1f}" for x in rss)]
             for jobs, rss in m["rss_mb"].items()]
    yield from _table(["jobs answered", "RSS MiB per worker process"], table)
    at_first = next(iter(m["rss_mb"].values()))  # per process, at the first checkpoint
    verdict = _verdict(m["growth"] <= 0.10 and max(at_first) <= GOAL_RSS_MIB)
    yield (f"\nGrowth from first to last checkpoint: {m['growth']:+.1%}; peak RSS "
           f"{m['peak_rss_mb']:.1f} MiB (goal: ≤ {GOAL_RSS_MIB:g} MiB per process at the "
           f"first checkpoint, within 10 % at the last: {verdict})")
