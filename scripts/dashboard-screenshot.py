#!/usr/bin/env python3
"""Remake docs/dashboard-overview.png: the README's picture of the dashboard's overview.

Writes a made-up but plausible state under its own key prefix in the local Redis (an hour of
sends, a backlog in three applications, dead letters, a parked retry, a worker beating),
serves `notify-relay api` on it, photographs /ui/ in headless Chromium, and deletes the keys.

    .venv/bin/python scripts/dashboard-screenshot.py [OUT.png]
"""

from __future__ import annotations

import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402

from notify_relay.processes import Service, free_port, wait_until  # noqa: E402
from producers import Producer  # noqa: E402
from producers.keys import Keys  # noqa: E402
from producers.outcomes import Attempt, DeadReason  # noqa: E402
from producers.settings import Settings  # noqa: E402
from tests.conftest import delete_prefixed  # noqa: E402
from tests.dashboard.conftest import bury, dashboard_env  # noqa: E402
from tests.integration.helpers import example, handed_out  # noqa: E402
from worker.store import Stores  # noqa: E402
from worker.store.heartbeat import beat  # noqa: E402
from worker.store.metrics import Metrics  # noqa: E402

LOGIN = "ops:screenshot"


def fill(settings: Settings, client: redis.Redis, now: float) -> None:
    stores = Stores.build(settings, client)
    producer = Producer(settings=settings)
    bury(stores, producer, count=3)
    bury(stores, producer, count=1, reason=DeadReason.EXPIRED, application="OTP-00001")
    bury(stores, producer, count=2, reason=DeadReason.MAX_ATTEMPTS, age_s=1800)
    [retry] = producer.enqueue_many([example()])
    [item] = handed_out(stores)
    claim = stores.claims.claim(item, owner="w", lease_s=10)
    stores.claims.retry(claim.job, "w", Attempt(1, now, 5.0, "transient", 503), now + 40,
                        spend=True)
    for app, priority, count in (("ABCDE-12345", "normal", 42), ("OTP-00001", "urgent", 5),
                                 ("NEWS-77777", "bulk", 120)):
        producer.enqueue_many([example(application=app) for _ in range(count)],
                              priority=priority)
    rng = random.Random(7)
    for minute in range(60):
        clock = now - (59 - minute) * 60
        metrics = Metrics(client, Keys(settings.key_prefix), clock=lambda c=clock: c)
        busy = 1 + abs(30 - minute) / 30
        for _ in range(int(rng.gauss(60, 12) * busy)):
            metrics.attempt("success", 0.04)
        for cls, mean in (("transient", 3), ("throttled", 1.5 if 20 < minute < 30 else 0.2)):
            for _ in range(max(0, int(rng.gauss(mean, 1)))):
                metrics.attempt(cls, 0.2)
    Metrics(client, Keys(settings.key_prefix)).count("retries", "throttled", 14)
    for node in ("celery@worker-1", "celery@worker-2"):
        beat(client, Keys(settings.key_prefix), node, now)
    producer.close()


def main(out: Path) -> None:
    prefix = f"nrshot-{secrets.token_hex(4)}:"
    settings = Settings(redis_url="redis://127.0.0.1:6379/9", key_prefix=prefix,
                        api_token="screenshot-token", base_url="http://127.0.0.1:9",
                        allow_plain_http=True, rate_limit="50/s", queue="notify-shot")
    client = redis.Redis.from_url(settings.redis_url)
    service = None
    try:
        fill(settings, client, time.time())
        port = free_port()
        env = dashboard_env(settings, NOTIFY_API_LOCAL="true", NOTIFY_DASHBOARD_AUTH=LOGIN)
        service = Service("api", [sys.executable, "-m", "notify_relay.cli", "api", "--port",
                                  str(port), "--allow-control"], env,
                          Path(tempfile.mkdtemp()))
        wait_until(lambda: "Uvicorn running on" in service.log_text(), 30, "the API")
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--window-size=1280,1180", "--hide-scrollbars"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=DriverService("/usr/bin/chromedriver"),
                                  options=options)
        try:
            driver.get(f"http://{LOGIN}@127.0.0.1:{port}/ui/")
            assert "Overview" in driver.title, driver.title
            driver.get_screenshot_as_file(str(out))
        finally:
            driver.quit()
    finally:
        if service is not None:
            service.stop()
        delete_prefixed(client, prefix)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard-overview.png")
