"""GET /v1/notifications/{job_id}: the outcome `Producer.outcome` gives, `?wait=`, 404;
the OpenAPI document and the health check; the per-status counters."""

from __future__ import annotations

import time

import pytest
import requests

from notify_relay.processes import wait_until
from producers.keys import Keys
from tests.integration.helpers import example
from worker.exporter import counter_families
from worker.store.metrics import read_counters

pytestmark = pytest.mark.integration


def test_the_outcome_is_what_producer_outcome_gives_and_unknown_is_404(start_api, producer):
    api = start_api()
    job_id = api.post("/v1/notifications", {"request": example()}).json()["job_id"]
    answer = api.get(f"/v1/notifications/{job_id}")
    assert answer.status_code == 200 and answer.json() == producer.outcome(job_id)
    unknown = api.get("/v1/notifications/no-such-job")
    assert unknown.status_code == 404 and "unknown job: no-such-job" in unknown.json()["error"]


def test_wait_holds_the_answer_until_a_real_worker_records_the_job(start_api, start_worker):
    api = start_api()
    start_worker()
    job_id = api.post("/v1/notifications", {"request": example()}).json()["job_id"]
    answer = api.get(f"/v1/notifications/{job_id}", wait=25)
    assert answer.status_code == 200
    assert answer.json()["status"] == "succeeded"
    assert answer.json()["attempts"][-1]["http_status"] == 200


def test_wait_answers_the_current_state_after_s_seconds_and_at_most_30(start_api):
    api = start_api()
    job_id = api.post("/v1/notifications", {"request": example()}).json()["job_id"]
    started = time.monotonic()
    answer = api.get(f"/v1/notifications/{job_id}", wait=0.6)
    took = time.monotonic() - started
    assert answer.status_code == 200 and answer.json()["status"] == "queued"
    assert 0.6 <= took < 5
    for bad in ("31", "-1", "soon", "nan"):
        refused = api.get(f"/v1/notifications/{job_id}", wait=bad)
        assert refused.status_code == 422 and "wait" in refused.json()["errors"], bad


def test_the_openapi_document_extends_the_contract_with_every_endpoint(start_api):
    api = start_api()
    answer = requests.get(f"{api.url}/v1/openapi.json", timeout=10)  # no key needed
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {"/messaging/v2/notify", "/v1/notifications",
                                 "/v1/notifications/batch", "/v1/notifications/{job_id}",
                                 "/v1/openapi.json", "/healthz"}
    assert doc["paths"]["/messaging/v2/notify"]["servers"][0]["url"].startswith("https://")
    post = doc["paths"]["/v1/notifications"]["post"]
    assert set(post["responses"]) == {"202", "400", "401", "403", "413", "415", "422",
                                      "503", "507"}
    refs = _refs(doc)
    assert "#/components/schemas/NotifyRequest" in refs
    assert all(ref.split("/")[-1] in doc["components"]["schemas"] for ref in refs)


def _refs(value: object) -> set[str]:
    if isinstance(value, dict):
        own = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return own.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def test_healthz_answers_without_a_key_and_unknown_paths_are_json_404(start_api):
    api = start_api()
    assert requests.get(f"{api.url}/healthz", timeout=10).json() == {"status": "ok"}
    missing = requests.get(f"{api.url}/v2/nothing", timeout=10)
    wrong = requests.delete(f"{api.url}/v1/notifications", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"error": "no such path"})
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]


def test_every_answer_is_counted_by_status_in_the_fleets_counters(
        start_api, settings, redis_client):
    api = start_api()
    for _ in range(3):
        api.post("/v1/notifications", {"request": example()})
    api.post("/v1/notifications", {"request": {}})
    requests.post(f"{api.url}/v1/notifications", json={}, timeout=10)

    def counted() -> dict[str, float]:
        totals = read_counters(redis_client, Keys(settings.key_prefix))
        return {k: v for k, v in totals.items() if k.startswith("api_requests:")}

    expected = {"api_requests:202": 3.0, "api_requests:422": 1.0, "api_requests:401": 1.0}
    wait_until(lambda: counted() == expected, 10, f"the counters to read {expected}")
    [family] = [m for m in counter_families(counted()) if m.name == "notify_relay_api_requests"]
    assert {s.labels["status"]: s.value for s in family.samples} == {
        "202": 3.0, "422": 1.0, "401": 1.0}
