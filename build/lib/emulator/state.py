"""Everything one emulator instance knows: its start-up options, settings, log and faults.

Shared by all handler threads. The log and the fault book lock themselves; `settings` is a frozen
value replaced as a whole, so a reader always sees one consistent version.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from itertools import count
from typing import Any

from emulator.faults import FaultBook
from emulator.recording import RequestLog

SHAPES = ("object", "list")  # unknown_identifiers: C3's object of lists, or C1/C2's flat list


@dataclass(frozen=True, slots=True)
class Settings:
    latency_ms: float = 0.0  # added before answering every request to the API side
    unknown_identifiers_shape: str = "object"
    # Identifiers starting with this are reported as unknown (the emulator knows no devices).
    unknown_prefix: str = "unknown"

    def updated(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with `changes` applied; ValueError naming the field on a bad key or value."""
        for key, value in changes.items():
            _check_setting(key, value)
        return replace(self, **changes)


def _check_setting(key: str, value: Any) -> None:
    if key == "latency_ms":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"latency_ms: expected a number >= 0, got {value!r}")
    elif key == "unknown_identifiers_shape":
        if value not in SHAPES:
            raise ValueError(f"unknown_identifiers_shape: expected one of {SHAPES}, got {value!r}")
    elif key == "unknown_prefix":
        if not isinstance(value, str):
            raise ValueError(f"unknown_prefix: expected a string, got {value!r}")
    else:
        known = ", ".join(f.name for f in Settings.__dataclass_fields__.values())
        raise ValueError(f"{key}: unknown setting; known: {known}")


class MessageCodes:
    """v1.3-style codes `XXXX-XXXXXXXX-XXXXXXXX`, unique within one server run.

    The middle group is a counter, so codes never repeat; the outer groups are random, so two
    emulator runs are unlikely to hand out the same code (a stale outcome cannot look fresh).
    """

    def __init__(self) -> None:
        self._prefix = random.getrandbits(16)
        self._counter = count(1)  # next() on itertools.count is atomic under the GIL

    def next(self) -> str:
        return f"{self._prefix:04X}-{next(self._counter):08X}-{random.getrandbits(32):08X}"


class EmulatorState:
    def __init__(
        self,
        *,
        token: str | None = None,
        latency_ms: float = 0.0,
        record_bodies: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token or None  # "" means "no token", like an unset env var
        self.record_bodies = record_bodies
        self.clock = clock
        self.log = RequestLog()
        self.faults = FaultBook()
        self.initial_settings = Settings().updated({"latency_ms": latency_ms})
        self.settings = self.initial_settings
        self.codes = MessageCodes()
        self._settings_lock = threading.Lock()  # two concurrent PUTs must not lose a change
        # Set on shutdown: wakes every latency / hang wait so stop() never waits for a sleeper.
        self.stopping = threading.Event()

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)

    def update_settings(self, changes: Mapping[str, Any]) -> Settings:
        with self._settings_lock:
            self.settings = self.settings.updated(changes)
            return self.settings

    def reset(self) -> None:
        """Back to the start-up state: empty log, no faults, start-up settings."""
        self.log.clear()
        self.faults.clear()
        with self._settings_lock:
            self.settings = self.initial_settings
