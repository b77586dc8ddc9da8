"""Runs → figures: the median of the runs with their min and max."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    median: float
    low: float
    high: float
    runs: int

    def ratio(self, other: Figure) -> float:
        return self.median / other.median if other.median else float("inf")

    def text(self, fmt: str = ",.0f") -> str:
        if self.runs == 1:
            return format(self.median, fmt)
        return f"{self.median:{fmt}} ({self.low:{fmt}}–{self.high:{fmt}})"


def figure(runs: list[dict[str, Any]], key: str) -> Figure:
    values = [float(run[key]) for run in runs]
    return Figure(statistics.median(values), min(values), max(values), len(values))
