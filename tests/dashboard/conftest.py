"""The dashboard on a real `notify-relay api` process, and a headless Chromium to drive it.

`start_dashboard(*args, **env)`: the API on a free port with the test's settings (the
token kept: the budget's keys are named after it), the login `LOGIN` unless the test
says otherwise. `browser`: one Chromium per test module (Debian's chromium and
chromium-driver, which scripts/bootstrap.sh installs as root); without them the browser
tests skip, saying what is missing. Screenshots go to build/screenshots/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from notify_relay.api.auth import new_key
from notify_relay.processes import Service, free_port, wait_until
from producers import Producer
from producers.outcomes import Attempt, DeadReason
from producers.settings import Settings
from tests.conftest import ROOT
from tests.integration.helpers import example, handed_out
from worker.store import Stores

LOGIN = ("ops", "correct horse battery staple")
START_TIMEOUT_S = 30.0
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


@dataclass
class Dashboard:
    url: str  # …/ui
    origin: str
    service: Service

    def get(self, path: str = "/", auth: tuple[str, str] | None = LOGIN,
            **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, auth=auth, timeout=10, allow_redirects=False,
                            **kwargs)

    def post(self, path: str, data: dict[str, str], auth: tuple[str, str] | None = LOGIN,
             **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, data=data, auth=auth, timeout=10,
                             allow_redirects=False, **kwargs)

    def login_url(self, path: str = "/") -> str:
        user, password = LOGIN
        return self.url.replace("http://", f"http://{user}:{password.replace(' ', '%20')}@",
                                1) + path

    def log_text(self) -> str:
        return self.service.log_text()


def dashboard_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "PUSHWOOSH_", "PORT"))}
    env.update(settings.to_env(), PYTHONPATH=str(ROOT), **extra)
    return env


DashboardFactory = Callable[..., Dashboard]


def bury(stores: Stores, producer: Producer, count: int = 1,
         reason: DeadReason = DeadReason.PERMANENT, application: str | None = None,
         error: str = "HTTP 400: INVALID_ARGUMENT: bad platforms", age_s: float = 0.0,
         ) -> list[str]:
    """Enqueue `count` example jobs and bury them as a worker would (no worker runs):
    dead `age_s` ago, after one attempt answered 400. Their job ids."""
    now = time.time()
    job_ids = producer.enqueue_many([example(application=application) for _ in range(count)])
    items = {item.job_id: item for item in handed_out(stores)}
    for job_id in job_ids:
        claim = stores.claims.claim(items[job_id], owner="w", lease_s=10)
        attempt = Attempt(1, now - age_s, 5.0, "permanent", 400, 3, error)
        stores.claims.bury(claim.job, "w", attempt, reason, error, now - age_s)
    return job_ids


@pytest.fixture
def start_dashboard(settings: Settings, tmp_path: Path) -> Iterator[DashboardFactory]:
    running: list[Service] = []

    def start(*args: str, login: str | None = ":".join(LOGIN), **env: str) -> Dashboard:
        port = free_port()
        _, entry = new_key("tests")
        variables = dashboard_env(settings, **{"NOTIFY_API_KEYS": entry, **env})
        if login is not None:
            variables["NOTIFY_DASHBOARD_AUTH"] = login
        argv = [sys.executable, "-m", "notify_relay.cli", "api", "--port", str(port), *args]
        service = Service(f"api-{len(running)}", argv, variables, tmp_path / "logs")
        running.append(service)

        def listening() -> bool:
            if not service.alive():
                raise RuntimeError(f"the API exited:\n{service.log_text()[-3000:]}")
            return "Uvicorn running on" in service.log_text()

        wait_until(listening, START_TIMEOUT_S, "the API to listen")
        origin = f"http://127.0.0.1:{port}"
        return Dashboard(origin + "/ui", origin, service)

    yield start
    for service in running:
        service.stop()
        sys.stderr.write(f"--- {service.name} log tail ---\n{service.log_text()[-2000:]}\n")


def _browser_paths() -> tuple[str, str] | str:
    """(chromium, chromedriver), or why there is no browser here."""
    binary = next((path for name in CHROMIUM if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if binary and driver:
        return binary, driver
    missing = [name for name, found in (("chromium", binary), ("chromedriver", driver))
               if not found]
    return (f"no {' and no '.join(missing)} on PATH: install Debian's chromium and "
            "chromium-driver (`make install` does, as root)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    found = _browser_paths()
    if isinstance(found, str):
        pytest.skip(found)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service as DriverService
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    options = Options()
    options.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,1000", "--no-first-run",
                "--disable-background-networking"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(found[1]), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """screenshot(name): the page as it is now, to build/screenshots/<test>-<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        browser.get_screenshot_as_file(str(path))
        return path

    return take
