"""API keys through a real server: 401 without a valid one, 403 for another application,
the key's name (never the key) in the log, the guard without keys, `api-key`."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from notify_relay.api.auth import new_key
from notify_relay.processes import free_port, wait_until
from tests.api.conftest import api_env
from tests.conftest import ROOT
from tests.integration.helpers import example

pytestmark = pytest.mark.integration


def test_no_key_a_wrong_key_or_another_scheme_is_401_asking_for_a_bearer_key(start_api):
    api = start_api()
    url = f"{api.url}/v1/notifications"
    body = {"request": example()}
    answers = [requests.post(url, json=body, timeout=10),
               requests.post(url, json=body, timeout=10, headers=api.headers("nrk_wrong")),
               requests.post(url, json=body, timeout=10,
                             headers={"Authorization": f"Token {api.key}"}),
               requests.get(f"{api.url}/v1/notifications/x", timeout=10)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401]
    assert all(a.headers["WWW-Authenticate"].startswith("Bearer") for a in answers)
    assert api.post("/v1/notifications", body).status_code == 202


def test_a_key_for_some_applications_gets_403_for_another_and_nothing_is_queued(
        start_api, redis_client, key_prefix):
    key, entry = new_key("orders", ["ABCDE-12345", "OTHER-00000"])
    api = start_api(keys=entry)
    assert api.post("/v1/notifications", {"request": example()}, key=key).status_code == 202
    other = example(application="ZZZZZ-99999")
    single = api.post("/v1/notifications", {"request": other}, key=key)
    batch = api.post("/v1/notifications/batch", {"requests": [example(), other]}, key=key)
    assert (single.status_code, batch.status_code) == (403, 403)
    assert "ZZZZZ-99999" in single.json()["error"]
    assert not any(redis_client.scan_iter(f"{key_prefix}wait:*:ZZZZZ-99999"))
    assert redis_client.llen(f"{key_prefix}wait:normal:ABCDE-12345") == 1


def test_a_key_reads_only_its_applications_jobs(start_api, producer):
    key, entry = new_key("orders", ["ABCDE-12345"])
    other_key, other_entry = new_key("ops")
    api = start_api(keys=f"{entry},{other_entry}")
    theirs = producer.enqueue(example(application="ZZZZZ-99999"))
    assert api.get(f"/v1/notifications/{theirs}", key=key).status_code == 404
    assert api.get(f"/v1/notifications/{theirs}", key=other_key).status_code == 200


def test_each_request_logs_one_line_with_the_key_name_and_never_the_key(start_api):
    api = start_api()
    api.post("/v1/notifications", {"request": example()})
    api.post("/v1/notifications", {"request": {}})
    requests.post(f"{api.url}/v1/notifications", json={}, timeout=10,
                  headers={"Authorization": "Bearer nrk_not-a-key-of-ours"})
    # The line is written once the answer has gone out: wait for the third.
    wait_until(lambda: api.log_text().count(" request method=") == 3, 10, "3 log lines")
    log = api.log_text()
    lines = [line for line in log.splitlines() if " request method=" in line]
    assert [line.split(" request ")[1].split(" duration_ms=")[0] for line in lines] == [
        "method=POST path=/v1/notifications status=202",
        "method=POST path=/v1/notifications status=422",
        "method=POST path=/v1/notifications status=401"]
    assert lines[0].endswith("key=tests") and lines[2].endswith("key=-")
    assert api.key not in log and "nrk_not-a-key-of-ours" not in log


def run_api(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "notify_relay.cli", "api", "--port", str(free_port()), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, cwd=ROOT)


def test_without_keys_the_api_refuses_to_start_with_one_line_and_exit_2(settings):
    done = run_api(api_env(settings))
    assert done.returncode == 2
    assert done.stderr.startswith("notify-relay: configuration error: NOTIFY_API_KEYS is "
                                  "not set")
    assert "NOTIFY_API_LOCAL=true" in done.stderr and len(done.stderr.splitlines()) == 1
    local = run_api(api_env(settings, NOTIFY_API_LOCAL="true"), "--host", "0.0.0.0")
    assert local.returncode == 2 and "127.0.0.1 only, not '0.0.0.0'" in local.stderr


def test_a_malformed_key_list_is_refused_without_echoing_it(settings):
    secret_looking = "orders:" + "ab" * 32 + ",broken"
    done = run_api(api_env(settings, NOTIFY_API_KEYS=secret_looking))
    assert done.returncode == 2
    assert "NOTIFY_API_KEYS=*** is not valid: entry 2 is not NAME:SHA256HEX" in done.stderr
    assert "ab" * 32 not in done.stderr and "broken" not in done.stderr


def test_local_mode_without_keys_serves_127_0_0_1_without_asking_for_a_key(start_api):
    api = start_api(keys="", NOTIFY_API_LOCAL="true")
    answer = requests.post(f"{api.url}/v1/notifications", json={"request": example()},
                           timeout=10)
    assert answer.status_code == 202
    wait_until(lambda: "key=local" in api.log_text(), 10, "the request's log line")


def test_api_key_prints_a_key_and_the_entry_that_lets_it_in(start_api):
    done = subprocess.run([sys.executable, "-m", "notify_relay.cli", "api-key", "billing",
                           "--apps", "ABCDE-12345,XYZ-1"], capture_output=True, text=True,
                          timeout=30, cwd=ROOT, check=True)
    key_line, entry_line = done.stdout.splitlines()
    key, entry = key_line.removeprefix("key: "), entry_line.removeprefix("entry: ")
    assert key.startswith("nrk_") and len(key) >= 40
    name, digest, apps = entry.split(":")
    assert (name, len(digest), apps) == ("billing", 64, "ABCDE-12345|XYZ-1")
    assert key not in entry
    api = start_api(keys=entry)
    assert api.post("/v1/notifications", {"request": example()}, key=key).status_code == 202
    assert "keys: billing" in api.log_text()
