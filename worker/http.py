"""The notify HTTP client: one pooled `requests.Session` per worker process.

Retries are ours (classify → retry policy), so urllib3's are off: a transparent
retry inside urllib3 could send a notification twice without our attempt log
knowing.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from worker.classify import SendResult

NOTIFY_PATH = "/messaging/v2/notify"


class NotifyClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        pool_size: int,
    ) -> None:
        self.url = base_url.rstrip("/") + NOTIFY_PATH
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._session = requests.Session()
        # Proxy and CA settings from the environment, read once: with trust_env on,
        # requests reads the environment again on every request (~0.15 ms per send).
        self._session.proxies.update(requests.utils.get_environ_proxies(self.url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self._session.verify = bundle
        self._session.trust_env = False
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # The token lives only in this header dict, never in a job, log or result.
        self._session.headers.update(
            {"Authorization": f"Token {token}", "Content-Type": "application/json",
             "Accept": "application/json", "User-Agent": "notify-relay/0.1"}
        )

    def post(self, request: dict[str, Any]) -> SendResult:
        body = json.dumps(request, separators=(",", ":"))
        started = time.perf_counter()
        try:
            response = self._session.post(self.url, data=body, timeout=self._timeout)
            content = response.content
        except requests.RequestException as exc:
            return SendResult(duration_ms=_ms_since(started), error=_strip(exc))
        return SendResult(
            duration_ms=_ms_since(started),
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=content,
        )

    def close(self) -> None:
        self._session.close()


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _strip(exc: requests.RequestException) -> requests.RequestException:
    """Drop the prepared request (it holds the Authorization header) from the error."""
    exc.request = None
    exc.response = None
    return exc
