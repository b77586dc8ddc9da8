"""Each scripted fault kind and option, driven through real HTTP."""

from __future__ import annotations

import threading
import time

import pytest
import requests


def test_respond_answers_the_scripted_status_headers_and_envelope(notify, control):
    control.script({"kind": "respond", "status": 429, "headers": {"Retry-After": "2"}})
    resp = notify()
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "2"
    assert resp.json() == {"code": 8, "message": resp.json()["message"], "details": []}


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 3), (401, 16), (403, 7), (404, 5), (409, 6), (429, 8), (500, 13), (503, 14), (504, 4)],
)
def test_respond_defaults_to_the_envelope_code_matching_the_status(notify, control, status, code):
    control.script({"kind": "respond", "status": status})
    assert notify().json()["code"] == code


def test_respond_defaults_to_503_unavailable(notify, control):
    control.script({"kind": "respond"})
    resp = notify()
    assert (resp.status_code, resp.json()["code"]) == (503, 14)


def test_respond_sends_a_scripted_json_or_text_body(notify, control):
    control.script(
        {"kind": "respond", "status": 500, "body": {"oops": 1}, "count": 1},
        {"kind": "respond", "status": 502, "body": "Bad Gateway", "count": 1},
    )
    first, second = notify(), notify()
    assert (first.status_code, first.json()) == (500, {"oops": 1})
    assert (second.status_code, second.text) == (502, "Bad Gateway")
    assert second.headers["Content-Type"].startswith("text/plain")


def test_hang_holds_the_request_past_the_client_read_timeout(notify, control):
    control.script({"kind": "hang", "hang_s": 30})
    with pytest.raises(requests.exceptions.ReadTimeout):
        notify(timeout=0.3)
    [record] = control.wait_for_requests(1)
    assert (record["fault"], record["status"]) == ("hang", None)  # still held


def test_hang_then_normal_answers_success_late(notify, control):
    control.script({"kind": "hang", "hang_s": 0.2})
    started = time.monotonic()
    resp = notify()
    assert resp.status_code == 200
    assert "message_code" in resp.json()
    assert time.monotonic() - started >= 0.2
    [record] = control.requests()
    assert (record["fault"], record["status"]) == ("hang", 200)


def test_hang_then_close_drops_the_connection(notify, control):
    control.script({"kind": "hang", "hang_s": 0.1, "then": "close"})
    with pytest.raises(requests.exceptions.ConnectionError):
        notify()


def test_hang_then_respond_answers_the_scripted_status(notify, control):
    control.script({"kind": "hang", "hang_s": 0.1, "then": "respond", "status": 504})
    resp = notify()
    assert (resp.status_code, resp.json()["code"]) == (504, 4)


def test_close_reads_the_request_then_drops_the_connection(notify, control, valid_body):
    control.script({"kind": "close"})
    with pytest.raises(requests.exceptions.ConnectionError):
        notify()
    [record] = control.requests()
    assert (record["fault"], record["status"]) == ("close", None)
    assert record["body"] == valid_body()  # the body did reach the server: ambiguous outcome


def test_the_connection_pool_recovers_after_a_close(notify, control):
    control.script({"kind": "close", "count": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        notify()
    assert notify().status_code == 200


def test_garbage_answers_200_with_a_body_that_is_not_json(notify, control):
    control.script({"kind": "garbage"})
    resp = notify()
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        resp.json()


def test_garbage_can_carry_its_own_status_and_text(notify, control):
    control.script({"kind": "garbage", "status": 502, "body": "<h1>Bad Gateway</h1>"})
    resp = notify()
    assert (resp.status_code, resp.text) == (502, "<h1>Bad Gateway</h1>")


def test_empty_answers_200_with_no_body(notify, control):
    control.script({"kind": "empty"})
    resp = notify()
    assert (resp.status_code, resp.content) == (200, b"")
    assert resp.headers["Content-Length"] == "0"


def test_a_counted_fault_applies_that_many_times_then_disappears(notify, control):
    control.script({"kind": "respond", "status": 503, "count": 2})
    assert [notify().status_code for _ in range(3)] == [503, 503, 200]
    assert control.faults() == []


def test_faults_apply_in_the_order_scripted(notify, control):
    control.script(
        {"kind": "respond", "status": 500, "count": 1},
        {"kind": "respond", "status": 503, "count": 1},
    )
    assert [notify().status_code for _ in range(3)] == [500, 503, 200]


def test_a_fault_can_match_one_application(notify, control, valid_body):
    control.script({"kind": "respond", "status": 403, "match": {"application": "ABCDE-12345"}})
    assert notify(valid_body("OTHER-00000")).status_code == 200
    assert notify(valid_body("ABCDE-12345")).status_code == 403
    assert notify(valid_body("OTHER-00000")).status_code == 200


def test_a_fault_can_match_the_request_kind(notify, control, valid_body):
    control.script({"kind": "respond", "status": 409, "match": {"kind": "segment"}})
    assert notify(valid_body()).status_code == 200
    assert notify({"segment": {"application": "ABCDE-12345"}}).status_code == 409


def test_a_fault_with_a_duration_stops_applying_when_it_expires(notify, control):
    control.script({"kind": "respond", "status": 503, "duration_s": 0.3})
    assert notify().status_code == 503
    deadline = time.monotonic() + 5
    while notify().status_code == 503:
        assert time.monotonic() < deadline, "fault still active 5 s after a 0.3 s duration"
        time.sleep(0.02)
    assert control.faults() == []


def _pattern(notify, control, seed: int) -> list[int]:
    control.reset()
    control.script({"kind": "respond", "status": 503, "probability": 0.5, "seed": seed})
    return [notify().status_code for _ in range(30)]


def test_a_seeded_probability_gives_the_same_pattern_every_run(notify, control):
    first = _pattern(notify, control, seed=7)
    assert first == _pattern(notify, control, seed=7)
    assert set(first) == {200, 503}
    assert first != _pattern(notify, control, seed=8)


def test_delay_s_waits_before_acting(notify, control):
    control.script({"kind": "respond", "status": 500, "delay_s": 0.2})
    started = time.monotonic()
    assert notify().status_code == 500
    assert time.monotonic() - started >= 0.2


def test_faults_come_before_the_auth_check(notify, control):
    # They stand for the load balancer in front of the API, which answers whatever the request.
    control.script({"kind": "respond", "status": 503, "count": 1})
    assert notify(token=None).status_code == 503
    assert notify(token=None).status_code == 401


def test_a_named_fault_is_recorded_under_its_name(notify, control):
    control.script({"kind": "respond", "status": 429, "name": "throttle", "count": 1})
    notify()
    assert control.requests()[0]["fault"] == "throttle"


def test_a_count_is_spent_exactly_under_concurrent_requests(emulator, control, token):
    control.script({"kind": "respond", "status": 503, "count": 50})
    statuses: list[int] = []

    def send_many() -> None:
        with requests.Session() as session:
            for _ in range(25):
                resp = session.post(
                    emulator.url + "/messaging/v2/notify",
                    json={"segment": {}},
                    headers={"Authorization": f"Token {token}"},
                    timeout=5,
                )
                statuses.append(resp.status_code)

    threads = [threading.Thread(target=send_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (statuses.count(503), statuses.count(200)) == (50, 150)


def test_a_hanging_request_holds_only_its_own_connection(emulator, notify, control, valid_body):
    control.script({"kind": "hang", "hang_s": 30, "match": {"application": "SLOW-00000"}})
    errors: list[Exception] = []

    def slow() -> None:
        with requests.Session() as session:
            try:
                session.post(
                    emulator.url + "/messaging/v2/notify", json=valid_body("SLOW-00000"), timeout=1
                )
            except requests.exceptions.ReadTimeout as exc:
                errors.append(exc)

    hung = threading.Thread(target=slow)
    hung.start()
    control.wait_for_requests(1, timeout=5)
    started = time.monotonic()
    assert notify(valid_body("FAST-00000")).status_code == 200
    assert time.monotonic() - started < 0.5
    hung.join()
    assert len(errors) == 1
