"""Scripted faults: parsing a fault object, and the ordered, thread-safe book that picks one.

A fault only says *what* to do; `notify.py` (and `hostile.py`) does it. Adding a kind means
adding its name to `KINDS` and its default status here, and one function to
`notify.FAULT_ACTIONS`; a field that only it uses goes in `ONLY_FOR`. Time is passed in
(`now`), so the book is tested without clocks.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from emulator import validate

KINDS = (
    "respond",
    "hang",
    "close",
    "garbage",
    "empty",
    "drip",
    "gzip_bomb",
    "huge_body",
    "deep_nesting",
)
THEN = ("normal", "close", "respond")  # what a hang does once it is over
FRAMINGS = ("length", "chunked")  # how a drip frames its body: Content-Length, or chunked
MATCH_KEYS = ("application", "kind")  # kind: "segment" | "transactional"
DEFAULT_STATUS = {
    "respond": 503,
    "hang": 503,
    "garbage": 200,
    "empty": 200,
    "close": 200,
    "drip": 200,
    "gzip_bomb": 200,
    "huge_body": 200,
    "deep_nesting": 200,
}
DEFAULT_HANG_S = 30.0  # longer than any sane client read timeout
DEFAULT_DRIP_INTERVAL_S = 1.0  # below any sane per-recv read timeout, so none trips
DEFAULT_INFLATED_MB = 200.0  # the size of the M2 measurement; MB = 10^6 bytes throughout
DEFAULT_SIZE_MB = 50.0
DEFAULT_DEPTH = 200_000  # far past the ~1,000 frames json.loads can recurse (M8)


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
    drip_interval_s: float = DEFAULT_DRIP_INTERVAL_S
    pad_bytes: int = 0  # drip: spaces sent before the body (JSON allows leading whitespace)
    framing: str = "length"
    inflated_mb: float = DEFAULT_INFLATED_MB
    size_mb: float = DEFAULT_SIZE_MB
    depth: int = DEFAULT_DEPTH

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def matches(self, target: Mapping[str, str | None]) -> bool:
        return all(target.get(key) == want for key, want in self.match.items())

    def describe(self, now: float) -> dict[str, Any]:
        left = None if self.expires_at is None else round(max(0.0, self.expires_at - now), 3)
        return {**self.spec, "id": self.id, "remaining": self.remaining, "expires_in_s": left}


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "kind": validate.choice(KINDS),
    "name": validate.string,
    "status": lambda v: validate.integer(v, 100, 599),
    "body": lambda v: v,
    "headers": validate.headers,
    "count": lambda v: validate.integer(v, 1),
    "duration_s": lambda v: validate.number(v),
    "probability": lambda v: validate.number(v, 0.0, 1.0),
    "seed": lambda v: validate.integer(v, -(2**63)),
    "match": validate.match(MATCH_KEYS),
    "hang_s": lambda v: validate.number(v),
    "then": validate.choice(THEN),
    "delay_s": lambda v: validate.number(v),
    "drip_interval_s": lambda v: validate.number(v, 0.001, 3600.0),
    "pad_bytes": lambda v: validate.integer(v, 0, 10**9),  # 10^9 s at 1 s a byte: for ever
    "framing": validate.choice(FRAMINGS),
    # Upper bounds keep the emulator's own work sane: a 4096 MB bomb takes ~9 s to build.
    "inflated_mb": lambda v: validate.number(v, 0.01, 4096.0),
    "size_mb": lambda v: validate.number(v, 0.001, 10240.0),
    "depth": lambda v: validate.integer(v, 1, 10_000_000),
}

# Fields that only mean something for some kinds: elsewhere they would be ignored, so a fault
# scripted with the wrong knob (`size_mb` on a gzip_bomb) is refused instead of misleading.
ONLY_FOR = {
    "body": ("respond", "hang", "garbage", "drip"),
    "hang_s": ("hang",),
    "then": ("hang",),
    "drip_interval_s": ("drip",),
    "pad_bytes": ("drip",),
    "framing": ("drip",),
    "inflated_mb": ("gzip_bomb",),
    "size_mb": ("huge_body",),
    "depth": ("deep_nesting",),
}

# Options with a default: the same name in the fault object and on `Fault`.
OPTION_DEFAULTS: dict[str, Any] = {
    "hang_s": DEFAULT_HANG_S,
    "then": "normal",
    "delay_s": 0.0,
    "drip_interval_s": DEFAULT_DRIP_INTERVAL_S,
    "pad_bytes": 0,
    "framing": "length",
    "inflated_mb": DEFAULT_INFLATED_MB,
    "size_mb": DEFAULT_SIZE_MB,
    "depth": DEFAULT_DEPTH,
}


def _clean(spec: Any, path: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise FaultError(f"{path}: expected an object, got {json.dumps(spec)}")
    unknown = sorted(set(spec) - set(_VALIDATORS))
    if unknown:
        raise FaultError(f"{path}.{unknown[0]}: unknown field; known: {', '.join(_VALIDATORS)}")
    if "kind" not in spec:
        raise FaultError(f"{path}.kind: required, one of {', '.join(KINDS)}")
    cleaned = {key: _field(key, value, path) for key, value in spec.items()}
    _check_kind_fields(cleaned, path)
    return cleaned


def _field(key: str, value: Any, path: str) -> Any:
    try:
        return _VALIDATORS[key](value)
    except ValueError as exc:
        raise FaultError(f"{path}.{key}: {exc}, got {json.dumps(value)}") from None


def _check_kind_fields(cleaned: dict[str, Any], path: str) -> None:
    kind = cleaned["kind"]
    for key in cleaned:
        kinds = ONLY_FOR.get(key, (kind,))
        if kind not in kinds:
            raise FaultError(f"{path}.{key}: only for kind {' or '.join(kinds)}, not {kind}")


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
        **{name: c.get(name, default) for name, default in OPTION_DEFAULTS.items()},
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
