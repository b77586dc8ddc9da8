"""The dashboard over real HTTP on a real `notify-relay api` process: its login apart from
the API keys, local mode, read-only, CSRF, the filters, and what no page may show."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
import requests

from notify_relay.dashboard.app import HERE, templates
from producers.outcomes import DeadReason
from tests.conftest import ROOT
from tests.dashboard.conftest import LOGIN, bury, dashboard_env
from tests.integration.helpers import example
from worker.store import Stores

PATHS = ["/", "/dead", "/jobs/some-job", "/jobs?id=some-job", "/static/dashboard.css",
         "/dead/confirm?action=purge"]


@pytest.fixture
def stores(settings, redis_client):
    return Stores.build(settings, redis_client)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match, page
    return match.group(1)


def test_without_the_login_every_path_is_401_even_when_the_api_needs_no_key(
        start_dashboard):
    dash = start_dashboard("--allow-control", NOTIFY_API_KEYS="", NOTIFY_API_LOCAL="true")

    for path in PATHS:
        for auth in (None, (LOGIN[0], "wrong"), ("someone", LOGIN[1])):
            answer = dash.get(path, auth=auth)
            assert answer.status_code == 401, (path, auth)
            assert answer.headers["WWW-Authenticate"].startswith('Basic realm="notify-relay')
    assert dash.post("/dead/purge", {}, auth=None).status_code == 401
    assert dash.get("/").status_code == 200
    assert dash.get("/", auth=LOGIN).status_code == 200
    # the API beside it still lets local callers in without a key
    assert requests.get(dash.origin + "/healthz", timeout=10).status_code == 200


def test_the_dashboard_is_off_without_a_login_or_local_mode(start_dashboard):
    dash = start_dashboard(login=None)

    assert dash.get("/", auth=None).status_code == 404
    assert dash.get("/", auth=LOGIN).status_code == 404
    assert "dashboard: off" in dash.log_text()


def test_local_mode_needs_no_login_and_refuses_a_public_address(start_dashboard, settings):
    dash = start_dashboard(login=None, NOTIFY_DASHBOARD_LOCAL="true")

    assert dash.get("/", auth=None).status_code == 200
    assert "127.0.0.1 only" in dash.log_text()
    env = dashboard_env(settings, NOTIFY_DASHBOARD_LOCAL="true", NOTIFY_API_LOCAL="false",
                        NOTIFY_API_KEYS=_key_entry())
    refused = subprocess.run([sys.executable, "-m", "notify_relay.cli", "api", "--host",
                              "0.0.0.0", "--port", "1"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2
    assert "NOTIFY_DASHBOARD_LOCAL without NOTIFY_DASHBOARD_AUTH" in refused.stderr


def _key_entry() -> str:
    from notify_relay.api.auth import new_key
    return new_key("tests")[1]


def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(
        start_dashboard, stores, producer):
    [job_id] = bury(stores, producer)
    dash = start_dashboard("--allow-control")

    for form in ({"job": job_id}, {"job": job_id, "csrf": ""},
                 {"job": job_id, "csrf": "0" * 64}):
        answer = dash.post("/dead/purge", form)
        assert answer.status_code == 403, form
        assert "CSRF" in answer.text
    assert stores.dead.get(job_id) is not None

    page = dash.get(f"/dead/confirm?action=purge&job={job_id}").text
    done = dash.post("/dead/purge", {"job": job_id, "csrf": csrf_of(page)})
    assert done.status_code == 200 and "1 dead letter(s) purged" in done.text
    assert stores.dead.get(job_id) is None


def test_a_read_only_dashboard_has_no_button_and_refuses_every_change(
        start_dashboard, stores, producer):
    [job_id] = bury(stores, producer)
    dash = start_dashboard()

    for path in ("/", "/dead", f"/jobs/{job_id}"):
        page = dash.get(path).text
        assert "read-only" in page
        assert "Replay" not in page and "Purge" not in page and "<form method=\"post\"" not in page
    assert dash.get(f"/dead/confirm?action=replay&job={job_id}").status_code == 403
    assert dash.post("/dead/replay", {"job": job_id, "csrf": "x"}).status_code == 403
    assert stores.dead.get(job_id) is not None


def test_no_page_shows_the_request_s_content_targets_or_the_token(
        start_dashboard, stores, producer, api_token):
    [job_id] = bury(stores, producer)
    dash = start_dashboard("--allow-control")
    secrets = ["user-1", "user-2", "4821", "Your code", api_token, LOGIN[1]]

    pages = {path: dash.get(path).text for path in (
        "/", "/dead", f"/jobs/{job_id}", f"/dead/confirm?action=replay&job={job_id}",
        "/dead/confirm?action=purge")}
    for path, page in pages.items():
        for secret in secrets:
            assert secret not in page, (path, secret)
    job_page = pages[f"/jobs/{job_id}"]
    assert (f"job={job_id} kind=transactional app=ABCDE-12345 platforms=IOS,ANDROID "
            "targets=2 attempt=") in job_page  # the summary Flower shows
    assert "HTTP 400: INVALID_ARGUMENT: bad platforms" in job_page
    log = dash.log_text()
    assert "key=ui:ops" in log
    assert LOGIN[1] not in log and "Basic " not in log and api_token not in log


def test_every_page_comes_with_no_store_no_framing_and_a_policy_that_runs_no_script(
        start_dashboard):
    dash = start_dashboard()

    for path in ("/", "/dead", "/static/dashboard.css", "/jobs/unknown-job"):
        headers = dash.get(path).headers
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Frame-Options"] == "DENY"
        assert "script-src" not in headers["Content-Security-Policy"]
        assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert dash.get("/", auth=None).headers["X-Frame-Options"] == "DENY"


def test_a_page_says_redis_is_unavailable_with_a_503(start_dashboard):
    dash = start_dashboard(REDIS_URL="redis://127.0.0.1:1/9")

    for path in ("/", "/dead", "/jobs/some-job"):
        answer = dash.get(path)
        assert answer.status_code == 503, path
        assert "Redis is unavailable" in answer.text
    assert dash.get("/", auth=None).status_code == 401  # the login first, still


def test_dead_letters_filter_by_reason_application_and_age(start_dashboard, stores, producer):
    [permanent] = bury(stores, producer)
    [expired] = bury(stores, producer, reason=DeadReason.EXPIRED, application="OTP-00001")
    [old] = bury(stores, producer, age_s=3600)
    dash = start_dashboard()

    def listed(query: str) -> set[str]:
        page = dash.get(f"/dead?{query}")
        assert page.status_code == 200, page.text
        return set(re.findall(r'<tr data-job="([^"]+)"', page.text))

    assert listed("") == {permanent, expired, old}
    assert listed("reason=expired") == {expired}
    assert listed("application=ABCDE-12345") == {permanent, old}
    assert listed("older_than_min=30") == {old}
    assert listed("newer_than_min=30") == {permanent, expired}
    assert listed("reason=permanent&newer_than_min=30") == {permanent}
    assert dash.get("/dead?reason=bogus").status_code == 400
    assert dash.get("/dead?older_than_min=-1").status_code == 400


def test_replay_all_matching_acts_on_what_the_confirmation_counted(
        start_dashboard, stores, producer):
    expired = bury(stores, producer, count=2, reason=DeadReason.EXPIRED)
    [permanent] = bury(stores, producer)
    dash = start_dashboard("--allow-control")

    page = dash.get("/dead/confirm?action=replay&reason=expired").text
    assert "Replay 2 dead letter(s)?" in page
    form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    assert form["reason"] == "expired"
    later = bury(stores, producer, reason=DeadReason.EXPIRED)  # died after the page was shown
    done = dash.post("/dead/replay", form)

    assert done.status_code == 200 and "2 dead letter(s) replayed" in done.text
    assert [stores.dead.get(job_id) for job_id in expired] == [None, None]
    assert stores.dead.get(permanent) is not None and stores.dead.get(later[0]) is not None


def test_a_job_is_looked_up_by_id(start_dashboard, stores, producer):
    [job_id] = bury(stores, producer)
    waiting = producer.enqueue(example())
    dash = start_dashboard()

    redirect = dash.get(f"/jobs?id={job_id}")
    assert redirect.status_code == 303 and redirect.headers["location"] == f"/ui/jobs/{job_id}"
    dead = dash.get(f"/jobs/{job_id}").text
    assert 'id="status">dead<' in dead and 'id="dead-reason">permanent<' in dead
    queued = dash.get(f"/jobs/{waiting}").text
    assert 'id="status">queued<' in queued and "user-1" not in queued
    assert dash.get("/jobs/no-such-job").status_code == 404
    assert dash.get("/jobs?id=").status_code == 400


def test_every_asset_ships_in_the_package_and_nothing_is_fetched_from_elsewhere():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = data["package-data"]["notify_relay.dashboard"]
    shipped = [path for pattern in patterns for path in HERE.glob(pattern)]
    on_disk = [p for folder in ("templates", "static") for p in (HERE / folder).iterdir()]
    assert sorted(shipped) == sorted(on_disk)
    for path in on_disk:
        assert not re.search(r"(src|href)=\"?(https?:)?//", path.read_text()), path
        assert "@import" not in path.read_text() and "url(" not in path.read_text()
    assert templates().env.autoescape is True
