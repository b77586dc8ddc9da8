"""NOTIFY_RETURN_UNKNOWN_IDENTIFIERS at enqueue (producers/enqueue.py), and outcome records
written before `unknown_identifiers` joined the final record's head."""

from __future__ import annotations

import copy
import json

import pytest

from producers.enqueue import Enqueuer, ask_unknown_identifiers
from producers.outcomes import decode_record
from producers.settings import Settings
from tests.integration.helpers import example


def stored_bodies(settings: Settings, requests: list) -> list[dict]:
    [call] = Enqueuer(settings).plan(requests).calls
    # args: 6 of the call's head, then 6 per job, the body last
    return [json.loads(body) for body in call.args[6 + 5::6]]


def test_the_flag_is_set_on_transactional_requests_that_do_not_set_it():
    segment = {"segment": {"application": "A", "code": "c"}}
    assert ask_unknown_identifiers(segment) is segment
    request = example()
    original = copy.deepcopy(request)
    asked = ask_unknown_identifiers(request)
    assert asked["transactional"]["return_unknown_identifiers"] is True
    assert request == original  # the caller's request is not changed


@pytest.mark.parametrize("own", [True, False])
def test_a_request_that_sets_the_flag_itself_keeps_its_own(own):
    request = example()
    request["transactional"]["return_unknown_identifiers"] = own
    assert ask_unknown_identifiers(request) is request


@pytest.mark.parametrize("on", [True, False])
def test_the_stored_body_is_what_will_be_posted_with_the_flag_only_when_asked(on):
    [body] = stored_bodies(Settings(return_unknown_identifiers=on), [example()])
    assert body["transactional"].get("return_unknown_identifiers") is (True if on else None)


def test_a_final_record_written_before_unknown_identifiers_existed_still_reads():
    head = [1, "succeeded", "transactional", "A", "normal", 1.0, 2.0, None, 1.5, None, None,
            None, "MC"]
    record = decode_record("j", json.dumps(head).encode() + b"\n[]")
    assert record["message_code"] == "MC" and "unknown_identifiers" not in record
    newer = decode_record("j", json.dumps([*head, {"users": ["u"]}]).encode() + b"\n[]")
    assert newer["unknown_identifiers"] == {"users": ["u"]}
