"""Results → `plot.png`: throughput (one panel per endpoint latency) and p99 latency,
both against total concurrency (processes x threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.stats import figure  # noqa: E402

MARKERS = {"notify-relay": "o", "celery": "s", "dramatiq": "^"}


def draw(results: dict[str, Any], path: Path) -> None:
    rows = results.get("e2e", [])
    latencies = sorted({r["latency_ms"] for r in rows})
    fig, axes = plt.subplots(1, len(latencies) + 1, figsize=(6 * (len(latencies) + 1), 5))
    for ax, latency_ms in zip(axes, latencies, strict=False):
        _throughput(ax, [r for r in rows if r["latency_ms"] == latency_ms], latency_ms)
    _latency(axes[-1], results.get("latency", []))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _errorbar(ax: Any, rows: list[dict[str, Any]], key: str, **style: Any) -> None:
    figs = [figure(r["runs"], key) for r in rows]
    ax.errorbar([r["concurrency"] for r in rows], [f.median for f in figs],
                yerr=[[f.median - f.low for f in figs], [f.high - f.median for f in figs]],
                capsize=3, **style)


def _throughput(ax: Any, rows: list[dict[str, Any]], latency_ms: float) -> None:
    ours = [r for r in rows if r["family"] == "notify-relay"]
    for processes in sorted({r["processes"] for r in ours}):
        line = sorted((r for r in ours if r["processes"] == processes),
                      key=lambda r: r["concurrency"])
        _errorbar(ax, line, "jobs_per_s", marker="o", label=f"notify-relay, {processes} proc")
    for row in rows:
        if row["family"] != "notify-relay":
            _errorbar(ax, [row], "jobs_per_s", marker=MARKERS.get(row["family"], "x"),
                      linestyle="none", label=row["label"])
    _axes(ax, f"End-to-end throughput, {latency_ms:g} ms endpoint", "jobs/s (median, min-max)")


def _latency(ax: Any, rows: list[dict[str, Any]]) -> None:
    for latency_ms in sorted({r["latency_ms"] for r in rows}):
        group = sorted((r for r in rows if r["latency_ms"] == latency_ms),
                       key=lambda r: r["concurrency"])
        for row in group:
            _errorbar(ax, [row], "p99_ms", marker="o", linestyle="none",
                      label=f"{row['label']} @ {latency_ms:g} ms")
    _axes(ax, "p99 enqueue -> POST at half capacity", "ms (median, min-max)")


def _axes(ax: Any, title: str, ylabel: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("total concurrency (processes x threads)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
