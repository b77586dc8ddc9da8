"""Rate-limit strings (`20/s`, `600/m`, `20/s:40`) parsed into a `Rate`.

Lives in `producers` because settings validation needs it on both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*(?::\s*(\d+))?\s*$")


@dataclass(frozen=True)
class Rate:
    """`per_second` sustained, up to `burst` sends at once after an idle spell (1: none)."""

    per_second: float
    burst: int

    def __str__(self) -> str:
        return f"{self.per_second:g}/s:{self.burst}"


def parse_rate(text: str) -> Rate:
    """`"20/s"` → Rate(20, 1); `"600/m:30"` → Rate(10, 30). Raises ValueError.

    No burst unless one is written: `N/s` means no 1-second window holds more than about
    N sends, which a strict server-side limiter checks.
    """
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"not a rate: {text!r} (expected N/s or N/m, optional :burst)")
    amount = float(match.group(1))
    per_second = amount if match.group(2).startswith("s") else amount / 60.0
    if per_second <= 0:
        raise ValueError(f"rate must be positive: {text!r}")
    burst = int(match.group(3)) if match.group(3) else 1
    return Rate(per_second=per_second, burst=max(1, burst))


def parse_rate_map(text: str) -> dict[str, Rate]:
    """`"APP1=10/s,APP2=600/m:5"` → {"APP1": Rate, ...}. Empty text → {}."""
    rates: dict[str, Rate] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        app, sep, rate = item.partition("=")
        if not sep or not app.strip():
            raise ValueError(f"not APP=RATE: {item!r}")
        rates[app.strip()] = parse_rate(rate)
    return rates


def parse_weights(text: str) -> dict[str, int]:
    """`"APP1=3,APP2=2"` → {"APP1": 3, "APP2": 2}: jobs per round-robin turn. Empty → {}."""
    weights: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        app, sep, weight = item.partition("=")
        if not sep or not app.strip() or not weight.strip().isdigit() or int(weight) < 1:
            raise ValueError(f"not APP=WEIGHT (a whole number >= 1): {item!r}")
        weights[app.strip()] = int(weight)
    return weights
