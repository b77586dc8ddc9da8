"""Scripted faults: parsing a fault object, and the ordered, thread-safe book that picks one.

A fault only says *what* to do; `notify.py` does it. Adding a kind means adding its name to
`KINDS` (and a default status if it answers) here and one function to `notify.FAULT_ACTIONS`.
Time is passed in (`now`), so the book is tested without clocks.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

KINDS = ("respond", "hang", "close", "garbage", "empty")
THEN = ("normal", "close", "respond")  # what a hang does once it is over
MATCH_KEYS = ("application", "kind")  # kind: "segment" | "transactional"
DEFAULT_STATUS = {"respond": 503, "hang": 503, "garbage": 200, "empty": 200, "close": 200}
DEFAULT_HANG_S = 30.0  # longer than any sane client read timeout


class FaultError(ValueError):
    """A fault object that cannot be used; the message names the field path and the bad value."""


@dataclass(slots=True)
class Fault:
    """One scripted fault. Mutable on purpose: `remaining` counts down and `rng` advances."""

    id: int
    spec: dict[str, Any]  # as scripted, echoed back by GET /_emulator/faults
    kind: str
    name: str
    status: int
    body: Any = None  # None: the kind's default body
    headers: dict[str, str] = field(default_factory=dict)
    remaining: int | None = None  # None: unlimited
    expires_at: float | None = None
    probability: float | None = None
    rng: random.Random = field(default_factory=random.Random)
    match: dict[str, str] = field(default_factory=dict)
    hang_s: float = DEFAULT_HANG_S
    then: str = "normal"
    delay_s: float = 0.0

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def matches(self, target: Mapping[str, str | None]) -> bool:
        return all(target.get(key) == want for key, want in self.match.items())

    def describe(self, now: float) -> dict[str, Any]:
        left = None if self.expires_at is None else round(max(0.0, self.expires_at - now), 3)
        return {**self.spec, "id": self.id, "remaining": self.remaining, "expires_in_s": left}


# --- field validators: each returns the cleaned value or raises ValueError("expected ...") ---


def _number(value: Any, low: float = 0.0, high: float | None = None) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"expected a number >= {low}{upper}")
    return float(value)


def _int(value: Any, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"expected an integer >= {low}")
    if high is not None and value > high:
        raise ValueError(f"expected an integer <= {high}")
    return value


def _choice(options: Iterable[str]) -> Callable[[Any], str]:
    allowed = tuple(options)

    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return str(value)

    return check


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("expected an object of header names to values")
    # The server computes framing headers itself; a scripted one would corrupt the stream.
    framing = {"content-length", "transfer-encoding", "connection"}
    if any(name.lower() in framing for name in value):
        raise ValueError("Content-Length, Transfer-Encoding and Connection are set by the server")
    cleaned = {str(name): str(val) for name, val in value.items()}
    if any(c in text for pair in cleaned.items() for text in pair for c in "\r\n"):
        raise ValueError("header names and values must not contain CR or LF")
    return cleaned


def _match(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not set(value) <= set(MATCH_KEYS):
        raise ValueError(f"expected an object with keys among {', '.join(MATCH_KEYS)}")
    return {key: str(val) for key, val in value.items()}


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "kind": _choice(KINDS),
    "name": _string,
    "status": lambda v: _int(v, 100, 599),
    "body": lambda v: v,
    "headers": _headers,
    "count": lambda v: _int(v, 1),
    "duration_s": lambda v: _number(v),
    "probability": lambda v: _number(v, 0.0, 1.0),
    "seed": lambda v: _int(v, -(2**63)),
    "match": _match,
    "hang_s": lambda v: _number(v),
    "then": _choice(THEN),
    "delay_s": lambda v: _number(v),
}


def _clean(spec: Any, path: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise FaultError(f"{path}: expected an object, got {json.dumps(spec)}")
    unknown = sorted(set(spec) - set(_VALIDATORS))
    if unknown:
        raise FaultError(f"{path}.{unknown[0]}: unknown field; known: {', '.join(_VALIDATORS)}")
    if "kind" not in spec:
        raise FaultError(f"{path}.kind: required, one of {', '.join(KINDS)}")
    cleaned = {}
    for key, value in spec.items():
        try:
            cleaned[key] = _VALIDATORS[key](value)
        except ValueError as exc:
            raise FaultError(f"{path}.{key}: {exc}, got {json.dumps(value)}") from None
    return cleaned


def parse_fault(spec: Any, fault_id: int, now: float, path: str = "fault") -> Fault:
    """Build a `Fault` from its JSON object; `now` starts the `duration_s` window."""
    c = _clean(spec, path)
    kind = c["kind"]
    return Fault(
        id=fault_id,
        spec=dict(spec),
        kind=kind,
        name=c.get("name", kind),
        status=c.get("status", DEFAULT_STATUS[kind]),
        body=c.get("body"),
        headers=c.get("headers", {}),
        remaining=c.get("count"),
        expires_at=now + c["duration_s"] if "duration_s" in c else None,
        probability=c.get("probability"),
        rng=random.Random(c.get("seed")),
        match=c.get("match", {}),
        hang_s=c.get("hang_s", DEFAULT_HANG_S),
        then=c.get("then", "normal"),
        delay_s=c.get("delay_s", 0.0),
    )


class FaultBook:
    """The scripted faults, in order. Every method takes the lock; all are cheap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = count(1)  # never reused, so an id in a log line stays unambiguous

    def add(self, specs: list[Any], now: float) -> list[Fault]:
        """Append faults; all or none (one bad object rejects the whole list)."""
        with self._lock:
            parsed = [
                parse_fault(spec, next(self._ids), now, f"faults[{i}]")
                for i, spec in enumerate(specs)
            ]
            self._faults.extend(parsed)
            return parsed

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            self._drop_expired(now)
            return [f.describe(now) for f in self._faults]

    def pick(self, target: Mapping[str, str | None], now: float) -> Fault | None:
        """The first fault that applies to this request, with its count spent; None if none."""
        with self._lock:
            self._drop_expired(now)
            for fault in self._faults:
                if self._applies(fault, target):
                    self._spend(fault)
                    return fault
            return None

    @staticmethod
    def _applies(fault: Fault, target: Mapping[str, str | None]) -> bool:
        if not fault.matches(target):
            return False
        # Rolled only for matching requests, so a seed gives the same pattern run after run.
        return fault.probability is None or fault.rng.random() < fault.probability

    def _spend(self, fault: Fault) -> None:
        if fault.remaining is None:
            return
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.remove(fault)

    def _drop_expired(self, now: float) -> None:
        self._faults = [f for f in self._faults if not f.expired(now)]
