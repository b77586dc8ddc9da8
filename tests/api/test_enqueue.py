"""POST /v1/notifications and /batch through a real server: what is queued, what is
refused and with which status, all-or-nothing batches, idempotency keys."""

from __future__ import annotations

import json

import pytest
import requests

from producers import validate
from producers.exceptions import ValidationError, flatten_messages
from tests.integration.helpers import example

pytestmark = pytest.mark.integration


def waiting(redis_client, key_prefix: str, priority: str = "normal") -> list[str]:
    key = f"{key_prefix}wait:{priority}:ABCDE-12345"
    return [v.decode() for v in redis_client.lrange(key, 0, -1)]


def nothing_waits(redis_client, key_prefix: str) -> bool:
    return not any(redis_client.scan_iter(f"{key_prefix}wait:*"))


@pytest.fixture
def api(start_api):
    return start_api()


def test_a_request_is_queued_with_its_priority_and_answered_202_with_its_id(
        api, producer, redis_client, key_prefix):
    answer = api.post("/v1/notifications", {"request": example(), "priority": "urgent",
                                            "expires_in": 600})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["duplicate"] is False and waiting(redis_client, key_prefix, "urgent") == [
        body["job_id"]]
    record = producer.outcome(body["job_id"])
    assert (record["status"], record["priority"]) == ("queued", "urgent")
    assert record["expires_at"] - record["enqueued_at"] == pytest.approx(600, abs=0.01)


def test_the_same_idempotency_key_gives_the_first_job_and_queues_nothing(
        api, redis_client, key_prefix):
    first = api.post("/v1/notifications", {"request": example()}, **{"Idempotency-Key": "o-7"})
    again = api.post("/v1/notifications", {"request": example()}, **{"Idempotency-Key": "o-7"})
    other = api.post("/v1/notifications", {"request": example()}, **{"Idempotency-Key": "o-8"})
    assert [first.status_code, again.status_code, other.status_code] == [202, 202, 202]
    assert again.json() == {"job_id": first.json()["job_id"], "duplicate": True}
    assert other.json()["job_id"] != first.json()["job_id"]
    assert waiting(redis_client, key_prefix) == [first.json()["job_id"], other.json()["job_id"]]


def test_an_invalid_request_is_422_with_validates_paths_and_messages(
        api, redis_client, key_prefix):
    bad = example("segment")
    del bad["segment"]["platforms"]
    answer = api.post("/v1/notifications", {"request": bad})
    assert answer.status_code == 422
    with pytest.raises(ValidationError) as caught:
        validate(bad)
    expected = {path: [text] for path, text in flatten_messages(caught.value.messages)}
    assert answer.json() == {"errors": expected}
    assert answer.json()["errors"]["segment.platforms"] == ["Missing data for required field."]
    assert nothing_waits(redis_client, key_prefix)


def test_a_bad_envelope_is_422_naming_each_field(api, redis_client, key_prefix):
    answer = api.post("/v1/notifications", {"priority": "asap", "expires_in": -1, "x": 1})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert errors["request"] == ["Missing data for required field."]
    assert "'urgent', 'normal', 'bulk'" in errors["priority"][0]
    assert "expires_in" in errors["expires_in"][0] and errors["x"] == ["Unknown field."]
    bad_key = api.post("/v1/notifications", {"request": example()},
                       **{"Idempotency-Key": "x" * 256})
    assert bad_key.status_code == 422 and "Idempotency-Key" in bad_key.json()["errors"]
    assert nothing_waits(redis_client, key_prefix)


def test_a_body_that_is_not_json_is_400_and_not_application_json_is_415(api):
    headers = api.headers(**{"Content-Type": "application/json"})
    broken = requests.post(f"{api.url}/v1/notifications", data=b'{"request": ',
                           headers=headers, timeout=10)
    nan = requests.post(f"{api.url}/v1/notifications", data=b'{"request": NaN}',
                        headers=headers, timeout=10)
    plain = requests.post(f"{api.url}/v1/notifications", data=json.dumps({"request": {}}),
                          headers=api.headers(**{"Content-Type": "text/plain"}), timeout=10)
    assert (broken.status_code, nan.status_code, plain.status_code) == (400, 400, 415)
    assert broken.json()["error"].startswith("the body is not JSON")
    assert "application/json" in plain.json()["error"]


def test_a_body_over_the_10_mb_limit_is_413_and_nothing_is_queued(
        api, redis_client, key_prefix):
    request = example()
    request["transactional"]["payload"]["content"]["localized_content"]["en"]["ios"][
        "body"] = "x" * 10_100_000
    answer = api.post("/v1/notifications", {"request": request})
    assert answer.status_code == 413
    assert "10,065,536 bytes" in answer.json()["error"]
    # Without a Content-Length (chunked), the limit holds while reading.
    chunks = iter([b'{"request": "', b"x" * 10_100_000, b'"}'])
    chunked = requests.post(f"{api.url}/v1/notifications", data=chunks, timeout=30,
                            headers=api.headers(**{"Content-Type": "application/json"}))
    assert chunked.status_code == 413
    assert nothing_waits(redis_client, key_prefix)
    assert api.post("/v1/notifications", {"request": example()}).status_code == 202


def test_a_batch_is_queued_in_order_with_per_request_idempotency_keys(
        api, redis_client, key_prefix):
    requests_ = [example(), example(), example()]
    answer = api.post("/v1/notifications/batch", {"requests": requests_, "priority": "bulk",
                                                  "idempotency_keys": ["b-1", "b-1", None]})
    assert answer.status_code == 202, answer.text
    ids = answer.json()["job_ids"]
    assert answer.json()["duplicates"] == [False, True, False] and ids[0] == ids[1]
    assert waiting(redis_client, key_prefix, "bulk") == [ids[0], ids[2]]


def test_one_invalid_item_refuses_the_whole_batch_keyed_by_index_and_path(
        api, redis_client, key_prefix):
    bad = example()
    del bad["transactional"]["platforms"]
    answer = api.post("/v1/notifications/batch", {"requests": [example(), bad, example()]})
    assert answer.status_code == 422
    assert answer.json()["errors"] == {
        "1.transactional.platforms": ["Missing data for required field."]}
    empty = api.post("/v1/notifications/batch", {"requests": []})
    header = api.post("/v1/notifications/batch", {"requests": [example()]},
                      **{"Idempotency-Key": "k"})
    assert (empty.status_code, header.status_code) == (422, 422)
    assert nothing_waits(redis_client, key_prefix)
