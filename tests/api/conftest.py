"""`notify-relay api` as a real server process on a free port, against the test Redis.

`start_api(**env)` starts one with the test's settings and one key for any application
(`api.key`), plus whatever variables the test adds; `api.url`, `api.log_text()`.
Every server started is stopped at teardown and its log tail printed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from notify_relay.api.auth import new_key
from notify_relay.processes import Service, free_port, wait_until
from producers.settings import Settings
from tests.conftest import ROOT

START_TIMEOUT_S = 30.0


@dataclass
class Api:
    url: str
    key: str
    service: Service

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", **extra}

    def post(self, path: str, body: object, key: str | None = None,
             **headers: str) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=body, timeout=40,
                             headers=self.headers(key, **headers))

    def get(self, path: str, key: str | None = None, **params: object) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, timeout=40,  # type: ignore[arg-type]
                            headers=self.headers(key))

    def log_text(self) -> str:
        return self.service.log_text()


def api_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "PUSHWOOSH_", "PORT"))}
    env.update(settings.to_env(), PYTHONPATH=str(ROOT), **extra)
    env.pop("PUSHWOOSH_API_TOKEN", None)  # the API never needs the token
    return env


def started(url: str, service: Service) -> bool:
    if not service.alive():
        raise RuntimeError(f"the API exited:\n{service.log_text()[-3000:]}")
    return "Uvicorn running on" in service.log_text()


ApiFactory = Callable[..., Api]


@pytest.fixture
def start_api(settings: Settings, tmp_path: Path) -> Iterator[ApiFactory]:
    running: list[Service] = []

    def start(*args: str, settings_override: Settings | None = None, keys: str | None = None,
              **env: str) -> Api:
        key, entry = new_key("tests")
        port = free_port()
        argv = [sys.executable, "-m", "notify_relay.cli", "api", "--port", str(port), *args]
        variables = api_env(settings_override or settings,
                            NOTIFY_API_KEYS=entry if keys is None else keys, **env)
        service = Service(f"api-{len(running)}", argv, variables, tmp_path / "logs")
        running.append(service)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: started(url, service), START_TIMEOUT_S, "the API to listen")
        return Api(url, key, service)

    yield start
    for service in running:
        service.stop()
        sys.stderr.write(f"--- {service.name} log tail ---\n{service.log_text()[-2000:]}\n")
