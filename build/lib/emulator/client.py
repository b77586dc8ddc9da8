"""`EmulatorClient`: the control API from Python (tests, demo, benchmarks).

The only module of the package that needs `requests`; the server itself is stdlib only.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

from requests import RequestException, Response, Session

DEFAULT_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02


class EmulatorError(RuntimeError):
    """The control API refused a call; the message is the emulator's (it names the bad field)."""


class EmulatorClient:
    def __init__(self, base_url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = Session()

    # --- the request log ---

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Recorded requests with `seq` greater than `since`, oldest first."""
        return list(self._call("GET", "requests", params={"since": since})["requests"])

    def clear(self) -> None:
        """Empty the request log (faults and settings stay)."""
        self._call("DELETE", "requests")

    def wait_for_requests(
        self, n: int, timeout: float = 30, *, since: int = 0
    ) -> list[dict[str, Any]]:
        """Poll until at least `n` requests after `since` are recorded; return all of them."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.requests(since)
            if len(got) >= n:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(self._shortfall(got, n, timeout))
            time.sleep(POLL_INTERVAL_S)

    def _shortfall(self, got: list[dict[str, Any]], n: int, timeout: float) -> str:
        seen = "; ".join(
            f"#{r['seq']} {r['method']} {r['path']} -> {r['status']} (fault {r['fault']})"
            for r in got[-5:]
        )
        return (
            f"emulator at {self.base_url} recorded {len(got)} of {n} expected requests "
            f"within {timeout:g} s" + (f"; last: {seen}" if seen else "")
        )

    # --- faults, latency, settings ---

    def script(self, *faults: dict[str, Any]) -> list[dict[str, Any]]:
        """Append faults (all or none); returns them as the emulator stored them, with ids."""
        return list(self._call("POST", "faults", json={"faults": list(faults)})["faults"])

    def faults(self) -> list[dict[str, Any]]:
        """The active faults, each with `remaining` (null: unlimited) and `expires_in_s`."""
        return list(self._call("GET", "faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_latency(self, ms: float) -> None:
        self._call("PUT", "latency", json={"latency_ms": ms})

    def settings(self) -> dict[str, Any]:
        return dict(self._call("GET", "settings"))

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings (e.g. `unknown_identifiers_shape="list"`); returns all of them."""
        return dict(self._call("PUT", "settings", json=settings))

    def reset(self) -> None:
        """Empty the log, drop every fault, restore start-up latency and settings."""
        self._call("POST", "reset")

    # --- liveness ---

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "health", timeout_s=2.0).get("ok"))
        except (RequestException, EmulatorError, ValueError):
            return False

    def wait_healthy(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.health():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"emulator at {self.base_url} not healthy after {timeout:g} s")
            time.sleep(POLL_INTERVAL_S)

    # --- plumbing ---

    def _call(self, method: str, name: str, timeout_s: float | None = None, **kw: Any) -> Any:
        url = f"{self.base_url}/_emulator/{name}"
        resp = self._session.request(method, url, timeout=timeout_s or self.timeout_s, **kw)
        if resp.status_code >= 400:
            raise EmulatorError(f"{method} /_emulator/{name}: {resp.status_code} {_message(resp)}")
        return resp.json()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _message(resp: Response) -> str:
    try:
        return str(resp.json().get("message", resp.text))
    except ValueError:
        return resp.text[:200]
