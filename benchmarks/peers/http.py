"""The one HTTP call both peers make: POST the body to the endpoint, raise on non-2xx."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from benchmarks.body import TOKEN

NOTIFY_PATH = "/messaging/v2/notify"
HEADERS = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json",
           "Accept": "application/json"}

_lock = threading.Lock()
_session: tuple[int, requests.Session] | None = None


def session() -> requests.Session:
    """One pooled session per process (built after a prefork fork, never inherited)."""
    global _session
    pid = os.getpid()
    if _session is None or _session[0] != pid:
        with _lock:
            if _session is None or _session[0] != pid:
                s = requests.Session()
                s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=128))
                _session = (pid, s)
    return _session[1]


def post(body: dict[str, Any]) -> None:
    url = os.environ["BENCH_ENDPOINT_URL"] + NOTIFY_PATH
    data = json.dumps(body, separators=(",", ":"))
    response = session().post(url, data=data, headers=HEADERS, timeout=(3.05, 10))
    response.raise_for_status()
