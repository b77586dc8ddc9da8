"""Field validators for the fault object: each returns the cleaned value or raises
`ValueError("expected ...")`, which `faults.py` turns into a message naming the field path.

Pure and kind-agnostic: which field a kind accepts is decided in `faults.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# The server computes framing headers itself; a scripted one would corrupt the stream.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
# RFC 9110 §5.6.2 token: a name with a space or a colon would split into another header.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def number(value: Any, low: float = 0.0, high: float | None = None) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"expected a number >= {low}{upper}")
    return float(value)


def integer(value: Any, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"expected an integer >= {low}")
    if high is not None and value > high:
        raise ValueError(f"expected an integer <= {high}")
    return value


def choice(options: Iterable[str]) -> Callable[[Any], str]:
    allowed = tuple(options)

    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return str(value)

    return check


def string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


def headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("expected an object of header names to values")
    if any(name.lower() in FRAMING_HEADERS for name in value):
        raise ValueError("Content-Length, Transfer-Encoding and Connection are set by the server")
    cleaned = {str(name): str(val) for name, val in value.items()}
    for name, val in cleaned.items():
        _check_header(name, val)
    return cleaned


def _check_header(name: str, value: str) -> None:
    if not _TOKEN.match(name):
        raise ValueError(f"header name {name!r} is not an HTTP token")
    if "\r" in value or "\n" in value:
        raise ValueError("header names and values must not contain CR or LF")
    try:
        # Sent as latin-1, as http.client does: "²" goes out as the byte 0xB2, but "€" has no
        # byte there, and replacing it silently would send something other than scripted.
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name}: value must be latin-1 (sent as is)") from None


def match(keys: Iterable[str]) -> Callable[[Any], dict[str, str]]:
    allowed = tuple(keys)

    def check(value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not set(value) <= set(allowed):
            raise ValueError(f"expected an object with keys among {', '.join(allowed)}")
        return {key: str(val) for key, val in value.items()}

    return check
