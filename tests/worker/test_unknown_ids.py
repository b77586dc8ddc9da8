"""Reading `unknown_identifiers` in either shape and putting each under its kind
(worker/unknown_ids.py), row by row; and classify handing them on."""

from __future__ import annotations

import json

import pytest

from worker.classify import SendResult, classify
from worker.unknown_ids import Reported, attribute, read

REQUEST = {"transactional": {"application": "A", "users": {"list": ["u1", "u2"]},
                             "hwids": {"list": ["h1"]}, "push_tokens": ["p1"]}}


def record(envelope, request=REQUEST):
    return attribute(read(envelope), request)


def test_the_object_shape_is_taken_as_it_is():
    got = record({"unknown_identifiers": {"users": ["u2"], "hwids": [], "push_tokens": ["p1"]}})
    assert got == {"users": ["u2"], "hwids": [], "push_tokens": ["p1"]}


def test_the_flat_shape_puts_each_identifier_under_the_request_list_that_holds_it():
    got = record({"unknown_identifiers": ["u1", "h1", "p1"]})
    assert got == {"users": ["u1"], "hwids": ["h1"], "push_tokens": ["p1"]}


def test_a_flat_identifier_the_request_does_not_hold_goes_under_its_only_kind_else_other():
    only_users = {"transactional": {"users": {"list": ["u1"]}}}
    assert record({"unknown_identifiers": ["x"]}, only_users)["users"] == ["x"]
    assert record({"unknown_identifiers": ["x"]})["other"] == ["x"]


def test_the_wrapped_envelope_is_read_too():
    assert record({"result": {"unknown_identifiers": ["u1"]}})["users"] == ["u1"]


@pytest.mark.parametrize("envelope", [
    {}, {"unknown_identifiers": None}, {"unknown_identifiers": []},
    {"unknown_identifiers": {}}, {"unknown_identifiers": {"users": []}},
    {"unknown_identifiers": "u1"}, {"unknown_identifiers": 3},
    {"unknown_identifiers": [1, None, {"a": 1}, ""]},
])
def test_nothing_unknown_is_none(envelope):
    assert record(envelope) is None


def test_entries_that_are_not_identifiers_are_dropped_and_other_keys_ignored():
    got = record({"unknown_identifiers": {"users": ["u1", 7, None], "emails": ["e"],
                                          "hwids": "h1"}})
    assert got == {"users": ["u1"], "hwids": [], "push_tokens": []}


def test_classify_hands_them_on_with_a_success():
    body = json.dumps({"message_code": "C", "unknown_identifiers": ["u1"]}).encode()
    verdict = classify(SendResult(duration_ms=1, status=200, headers={}, body=body))
    assert verdict.message_code == "C" and verdict.unknown == Reported(flat=("u1",))


def test_classify_reads_none_from_an_error_answer():
    body = json.dumps({"code": 3, "unknown_identifiers": ["u1"]}).encode()
    assert classify(SendResult(duration_ms=1, status=400, headers={}, body=body)).unknown is None
