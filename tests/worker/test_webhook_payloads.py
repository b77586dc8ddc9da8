"""Webhook events: their ids, bodies and signatures (worker/webhooks/payloads.py, signing.py)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from producers.job import Job
from worker.store.webhooks import decode_entry
from worker.webhooks import payloads
from worker.webhooks.payloads import EventType, Outbox
from worker.webhooks.signing import Signer

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
ALL = [t.value for t in EventType]
REQUEST = {"transactional": {"application": "ABCDE-12345", "users": {"list": ["alice"]},
                             "payload": {"content": {"localized_content": {"en": {
                                 "ios": {"title": "T", "body": "secret code 4821"}}}}}}}


@pytest.fixture
def job():
    return Job.new(REQUEST, max_age_s=60, now=1_800_000_000.0)


def bodies(events):
    return [json.loads(decode_entry(event_id, entry).body) for event_id, entry in events]


def test_a_success_with_unknown_identifiers_is_two_events_and_only_the_second_has_them(job):
    unknown = {"users": ["alice"], "hwids": [], "push_tokens": []}
    events = payloads.succeeded(job, attempts=2, message_code="MC", unknown=unknown,
                                now=1_800_000_001.5, wanted=ALL)
    succeeded, announced = bodies(events)
    assert succeeded == {"type": "notification.succeeded",
                         "timestamp": "2027-01-15T08:00:01.500Z",
                         "data": {"job_id": job.job_id, "status": "succeeded",
                                  "application": "ABCDE-12345", "kind": "transactional",
                                  "attempts": 2, "message_code": "MC"}}
    assert announced["type"] == "identifiers.unknown"
    assert announced["data"] == {**succeeded["data"], "unknown_identifiers": unknown}


def test_a_dead_job_is_one_event_with_its_reason(job):
    [dead] = bodies(payloads.dead(job, attempts=8, reason="max_attempts", now=1.0, wanted=ALL))
    assert dead["type"] == "notification.dead"
    assert dead["data"]["dead_reason"] == "max_attempts" and "message_code" not in dead["data"]


def test_no_event_carries_the_content_or_the_targets(job):
    text = json.dumps(bodies(payloads.succeeded(job, attempts=1, message_code="M",
                                                unknown=None, now=1.0, wanted=ALL)))
    assert "alice" not in text and "4821" not in text and "payload" not in text


def test_only_the_wanted_types_are_made_and_none_while_webhooks_are_off(job):
    kwargs = dict(attempts=1, message_code="M", unknown={"users": ["u"]}, now=1.0)
    assert len(Outbox(True, ["identifiers.unknown"]).succeeded(job, **kwargs)) == 1
    assert Outbox(False, ALL).succeeded(job, **kwargs) == []
    assert Outbox(True, ["notification.succeeded"]).dead(job, attempts=1, reason="x",
                                                          now=1.0) == []


def test_an_events_id_is_fixed_by_job_type_and_time_and_has_no_dot(job):
    first = payloads.event_id(job.job_id, EventType.DEAD, 5.0)
    assert first == payloads.event_id(job.job_id, EventType.DEAD, 5.0)
    assert first != payloads.event_id(job.job_id, EventType.DEAD, 6.0)
    assert first != payloads.event_id(job.job_id, EventType.SUCCEEDED, 5.0)
    assert first.startswith("msg_") and "." not in first


def test_the_signature_verifies_with_the_reference_library_and_a_tampered_body_fails():
    body = '{"type":"notification.succeeded","data":{}}'
    headers = Signer(SECRET).headers("msg_1", body, time.time())
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace("succeeded", "dead"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, {**headers, "webhook-id": "msg_2"})


def test_the_signer_never_shows_its_secret():
    assert SECRET not in repr(Signer(SECRET)) and "whsec" not in repr(Signer(SECRET))
