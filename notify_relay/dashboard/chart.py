"""The overview's plot: sends per minute over the last hour, stacked by failure class.

A pure function from `stats`' `sends_per_minute` rows to the rectangles of an inline SVG
(the template draws them): rendered on the server, no JavaScript, no chart library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from worker.failures import FailureClass

WIDTH = 720
HEIGHT = 180
#: Room under the bars for the time labels, and left of them for the scale.
AXIS_BOTTOM = 20
AXIS_LEFT = 40
#: Classes bottom to top: success first, the failures above it.
CLASSES = tuple(cls.value for cls in FailureClass)


@dataclass(frozen=True)
class Bar:
    cls: str
    x: float
    y: float
    width: float
    height: float
    count: int
    minute: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_height: int
    left: int
    bars: list[Bar]
    top: int  # the scale's maximum (sends in one minute)
    labels: list[tuple[float, str]]  # x, text
    totals: dict[str, int]  # class -> sends in the hour


def sends_chart(minutes: list[dict[str, Any]]) -> Chart:
    plot_h = HEIGHT - AXIS_BOTTOM
    per_minute = [sum(m["sends"].values()) for m in minutes]
    top = _nice(max(per_minute, default=0))
    slot = (WIDTH - AXIS_LEFT) / max(1, len(minutes))
    bars: list[Bar] = []
    totals: dict[str, int] = {}
    for i, minute in enumerate(minutes):
        base = float(plot_h)
        for cls in _ordered(minute["sends"]):
            count = int(minute["sends"][cls])
            totals[cls] = totals.get(cls, 0) + count
            height = plot_h * count / top
            base -= height
            bars.append(Bar(cls, AXIS_LEFT + i * slot + 1, round(base, 2), max(1.0, slot - 2),
                            round(height, 2), count, int(minute["minute"])))
    labels = [(AXIS_LEFT + i * slot, _clock(minutes[i]["minute"]))
              for i in range(0, len(minutes), 10)] if minutes else []
    return Chart(WIDTH, HEIGHT, plot_h, AXIS_LEFT, bars, top, labels, totals)


def _ordered(sends: dict[str, int]) -> list[str]:
    known = [cls for cls in CLASSES if sends.get(cls)]
    return known + sorted(cls for cls in sends if cls not in CLASSES and sends[cls])


def _nice(peak: int) -> int:
    """The scale's top: 1, 2 or 5 times a power of ten, at least the peak (and 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= peak:
                return step * factor
        step *= 10


def _clock(epoch_s: float) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch_s))
