"""The dashboard in a real headless Chromium, against a real `notify-relay api` (and, for
the replay, a real worker and the emulator). Every page visited is saved as a screenshot
in build/screenshots/. Waits are WebDriverWait with a deadline, never sleeps."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.dashboard.conftest import bury, dashboard_env
from tests.integration.helpers import example
from tests.test_stats_cli import busy  # noqa: F401  (the fixture: a known, busy state)
from worker.store import Stores

pytestmark = pytest.mark.browser
WAIT_S = 30
FLAKY = (NoSuchElementException, StaleElementReferenceException)


def wait(browser: Any, until: Any, timeout: float = WAIT_S) -> Any:
    return WebDriverWait(browser, timeout, poll_frequency=0.1,
                         ignored_exceptions=FLAKY).until(until)


def titled(browser: Any, text: str) -> None:
    wait(browser, lambda b: text in b.title)


def text_of(browser: Any, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def stats_json(settings: Any) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "notify_relay.cli", "stats", "--json"],
                          env=dashboard_env(settings), capture_output=True, text=True,
                          timeout=60, check=True)
    return dict(json.loads(done.stdout))


def at(snapshot: Any, path: str) -> Any:
    """The value a `data-stat` path names in the stats JSON (a counter not yet written: 0)."""
    value = snapshot
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif part not in value and path.startswith("totals."):
            return 0
        else:
            value = value[part]
    return value


def shown(value: Any) -> str:
    """How the overview prints a number (app.py `_stat`)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_log_in_then_every_page_of_the_dashboard_answers(start_dashboard, browser,
                                                          screenshot):
    dash = start_dashboard()

    browser.get(dash.url + "/")  # no login: the browser gets the 401, shows nothing of it
    assert "Overview" not in browser.page_source
    browser.get(dash.login_url("/"))
    titled(browser, "Overview")
    screenshot("overview")
    browser.get(dash.url + "/dead")  # the browser keeps the login for the origin
    titled(browser, "Dead letters")
    assert text_of(browser, "none") == "no dead letters"
    assert text_of(browser, "read-only") == "read-only"


def test_the_overview_shows_the_numbers_stats_json_shows(busy, start_dashboard,  # noqa: F811
                                                         browser, screenshot):
    dash = start_dashboard()
    browser.get(dash.login_url("/"))
    titled(browser, "Overview")
    screenshot("overview")
    page = {el.get_attribute("data-stat"): el.text
            for el in browser.find_elements(By.CSS_SELECTOR, "[data-stat]")}
    workers = browser.find_element(By.CSS_SELECTOR, "[data-stat-len=workers]").text
    last_minute = browser.find_element(By.CSS_SELECTOR, "[data-stat-sum=last_minute]").text
    bars: dict[str, int] = {}
    for bar in browser.find_elements(By.CSS_SELECTOR, "#sends-chart rect.bar"):
        cls = bar.get_attribute("data-class")
        bars[cls] = bars.get(cls, 0) + int(bar.get_attribute("data-count"))
    hour = {el.get_attribute("data-hour-class"): int(el.text)
            for el in browser.find_elements(By.CSS_SELECTOR, "[data-hour-class]")}

    snapshot = stats_json(busy)

    assert {"waiting.total", "waiting.by_priority.urgent.jobs", "retries.parked",
            "dead_letters.total", "dead_letters.by_reason.permanent", "circuit.state",
            "webhooks.backlog", "limiter.0.effective_per_s", "totals.attempts:throttled",
            "waiting.top_applications.0.waiting"} <= set(page)
    assert {path: text for path, text in page.items()} == {
        path: shown(at(snapshot, path)) for path in page}
    assert page["waiting.total"] == "3" and page["dead_letters.total"] == "3"
    assert page["circuit.state"] == "open"
    assert workers == str(len(snapshot["workers"])) == "1"
    assert last_minute == str(sum(snapshot["last_minute"].values())) == "4"
    in_hour: dict[str, int] = {}
    for minute in snapshot["sends_per_minute"]:
        for cls, count in minute["sends"].items():
            in_hour[cls] = in_hour.get(cls, 0) + count
    assert bars == in_hour == {"success": 3, "transient": 1}
    assert {cls: n for cls, n in hour.items() if n} == in_hour


def test_a_dead_letter_replayed_by_clicking_is_sent_again_and_succeeds(
        start_dashboard, start_worker, producer, emulator_client, browser, screenshot):
    emulator_client.script({"kind": "respond", "status": 404, "count": 1})
    start_worker()
    job_id = producer.enqueue(example())
    assert producer.wait(job_id, timeout=30)["status"] == "dead"
    dash = start_dashboard("--allow-control")

    browser.get(dash.login_url("/dead"))
    titled(browser, "Dead letters")
    screenshot("dead-letters")
    browser.find_element(By.CSS_SELECTOR, f'tr[data-job="{job_id}"] a.job').click()
    titled(browser, f"Job {job_id}")
    assert text_of(browser, "status") == "dead"
    assert text_of(browser, "dead-reason") == "permanent"
    screenshot("job-dead")
    browser.find_element(By.ID, "replay").click()
    titled(browser, "Replay?")
    screenshot("confirm-replay")
    browser.find_element(By.ID, "confirm").click()
    titled(browser, f"Job {job_id}")
    # The job page reloads itself until the job is final.
    wait(browser, lambda b: text_of(b, "status") == "succeeded")
    outcomes = [li.get_attribute("data-outcome")
                for li in browser.find_elements(By.CSS_SELECTOR, "#attempts li")]
    assert outcomes == ["permanent", "success"]
    screenshot("job-succeeded")
    assert producer.outcome(job_id)["status"] == "succeeded"
    assert len(emulator_client.requests()) == 2


def test_a_read_only_dashboard_shows_no_replay_or_purge_button(
        start_dashboard, settings, redis_client, producer, browser, screenshot):
    [job_id] = bury(Stores.build(settings, redis_client), producer)
    dash = start_dashboard()

    browser.get(dash.login_url(f"/jobs/{job_id}"))
    titled(browser, f"Job {job_id}")
    assert text_of(browser, "status") == "dead"
    assert browser.find_elements(By.ID, "replay") == []
    assert browser.find_elements(By.ID, "purge") == []
    screenshot("job-read-only")
    browser.get(dash.url + "/dead")
    titled(browser, "Dead letters")
    assert browser.find_elements(By.CSS_SELECTOR, f'tr[data-job="{job_id}"]')
    assert browser.find_elements(By.ID, "replay-matching") == []
    assert browser.find_elements(By.ID, "purge-matching") == []
    screenshot("dead-letters-read-only")


def test_a_form_sent_without_its_csrf_token_is_refused(
        start_dashboard, settings, redis_client, producer, browser, screenshot):
    stores = Stores.build(settings, redis_client)
    [job_id] = bury(stores, producer)
    dash = start_dashboard("--allow-control")

    browser.get(dash.login_url(f"/dead/confirm?action=purge&job={job_id}"))
    titled(browser, "Purge?")
    browser.execute_script("document.querySelector('input[name=csrf]').remove()")
    browser.find_element(By.ID, "confirm").click()
    titled(browser, "Refused")
    assert "CSRF" in text_of(browser, "message")
    screenshot("csrf-refused")
    assert stores.dead.get(job_id) is not None  # nothing was purged

    browser.get(dash.url + f"/dead/confirm?action=purge&job={job_id}")  # with its token
    titled(browser, "Purge?")
    browser.find_element(By.ID, "confirm").click()
    titled(browser, "1 purged")
    assert stores.dead.get(job_id) is None
