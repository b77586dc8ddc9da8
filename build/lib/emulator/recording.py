"""The request log: one record per request to the API side (not the control API).

A record is appended when a request arrives and completed when it is answered, so a test can
see a request that is still hanging (`status` null). The token is never stored: only the
`auth.AuthCheck` verdict, and the header value redacted to `Token ***`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, fields
from itertools import count
from typing import Any

from emulator.auth import AuthCheck

DEFAULT_MAX_RECORDS = 100_000  # oldest records are dropped past this, so long runs stay bounded


@dataclass(slots=True)
class RequestRecord:
    seq: int  # 1-based, never reused, not reset by clear/reset (a `since` cursor stays valid)
    time: float  # time.time() at arrival
    method: str
    path: str
    headers: dict[str, str]
    authorized: bool
    token_ok: bool | None
    token_sha256: str | None
    body: Any
    status: int | None = None  # None: not answered (yet), or the connection was closed
    fault: str | None = None
    peer: str | None = None  # the client's IP address

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: headers and body are never mutated after arrival.
        return {f.name: getattr(self, f.name) for f in fields(self)}


def record_headers(pairs: Iterable[tuple[str, str]], auth: AuthCheck) -> dict[str, str]:
    """Lower-case names; repeated headers joined with ", "; Authorization redacted."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if auth.redacted is not None:
        headers["authorization"] = auth.redacted
    return headers


class RequestLog:
    def __init__(self, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._seq = count(1)
        self._max = max_records

    def open(self, **values: Any) -> RequestRecord:
        """Append a record for a request that just arrived; `values` as in `RequestRecord`."""
        with self._lock:
            record = RequestRecord(seq=next(self._seq), **values)
            self._records.append(record)
            self._trim()
            return record

    def note_fault(self, record: RequestRecord, fault: str) -> None:
        """Set as soon as a fault is picked, so a request still hanging shows which one."""
        with self._lock:
            record.fault = fault

    def finish(self, record: RequestRecord, status: int | None) -> None:
        with self._lock:
            record.status = status

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        """Copies of the records with `seq` greater than the given one, oldest first."""
        with self._lock:
            if not self._records:
                return []
            # seqs in the list are contiguous, so the start is an index, not a search
            start = max(0, seq - self._records[0].seq + 1)
            return [r.to_dict() for r in self._records[start:]]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def _trim(self) -> None:
        # Drop in chunks of 10 % so the list is not shifted on every request once full.
        if len(self._records) > self._max + self._max // 10:
            del self._records[: len(self._records) - self._max]
