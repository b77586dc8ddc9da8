"""The reconciliation rules catch what they claim to: one synthetic job per rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.reconcile import Reconciliation, reconcile
from tests.faults.runner import probe_request

T = 1_000_000.0


def attempt(number: int, outcome: str, at: float, http: int | None = None,
            ambiguous: bool = False, error: str | None = None,
            late: bool = False) -> dict[str, Any]:
    return {"number": number, "outcome": outcome, "started_at": T + at, "http_status": http,
            "ambiguous": ambiguous, "error": error, "duration_ms": 1.0, "late": late}


def post(seq: int, at: float, status: int | None, fault: str | None = None) -> dict[str, Any]:
    return {"seq": seq, "time": T + at + 0.001, "status": status, "fault": fault,
            "body": probe_request("m"), "path": "/messaging/v2/notify"}


def run(status: str, attempts: list[dict[str, Any]], posts: list[dict[str, Any]],
        dead_reason: str | None = None, letters: list[dict[str, Any]] | None = None,
        held: str | None = None) -> Reconciliation:
    record = {"status": status, "attempts": attempts, "dead_reason": dead_reason}
    return reconcile("unit", {"m": "job-1"}, {"job-1": record}, posts, letters or [],
                     {"job-1": held} if held else {})


SENT_ONCE = ([attempt(1, "transient", 0, 503), attempt(2, "success", 1, 200)],
             [post(1, 0, 503), post(2, 1, 200)])
LOST_ANSWER = ([attempt(1, "ambiguous", 0, ambiguous=True), attempt(2, "success", 3, 200)],
               [post(1, 0, 200, "hang"), post(2, 3, 200)])


#: A holder cut off mid-send: taken over (its send logged "worker lost"), sent again and
#: succeeded; then its own result arrives, flagged late (hosts.py's Redis cut).
TAKEN_OVER = attempt(1, "ambiguous", 0, ambiguous=True, error="worker lost before the result")
LATE_RESULT = ([TAKEN_OVER, attempt(2, "success", 3, 200),
                attempt(1, "success", 0.0005, 200, late=True)],
               [post(1, 0, 200), post(2, 3, 200)])


def test_a_late_result_after_a_take_over_breaks_no_rule() -> None:
    result = run("succeeded", *LATE_RESULT)
    assert (result.problems, result.late_attempts, result.extra_deliveries) == ([], 1, 1)


def test_a_late_success_neither_counts_as_the_success_nor_stands_alone() -> None:
    unfinished = run("succeeded", [TAKEN_OVER, attempt(1, "success", 0.0005, 200, late=True)],
                     [post(1, 0, 200)])
    assert any("succeeded with 0 success attempts" in p for p in unfinished.problems)
    alone = run("succeeded", [attempt(1, "success", 0, 200),
                              attempt(1, "success", 0.0005, 200, late=True)], [post(1, 0, 200)])
    assert any("late attempt 1 follows no take-over" in p for p in alone.problems)


def test_a_clean_job_and_an_allowed_duplicate_break_no_rule() -> None:
    assert run("succeeded", *SENT_ONCE).problems == []
    allowed = run("succeeded", *LOST_ANSWER)
    assert (allowed.problems, allowed.extra_deliveries) == ([], 1)


@pytest.mark.parametrize(("status", "attempts", "posts", "expected"), [
    ("queued", [], [], "lost: not final"),
    ("succeeded", [attempt(1, "transient", 0, 503), attempt(2, "success", 1, 200)],
     [post(1, 0, 200), post(2, 1, 200)], "answered 200 but attempt 1 recorded transient"),
    ("succeeded", [attempt(1, "success", 0, 200)], [post(1, 0, 200), post(2, 0.5, 200)],
     "attempt 1 sent 2 POSTs"),
    ("succeeded", [attempt(1, "success", 0, 200)], [], "success attempt 1 has no 2xx POST"),
    ("succeeded", [attempt(1, "success", 1, 200)], [post(1, 0, 200), post(2, 1, 200)],
     "was sent before any recorded attempt"),
    ("succeeded", [attempt(1, "success", 0, 200), attempt(2, "transient", 1, 503)],
     [post(1, 0, 200), post(2, 1, 503)], "attempts were recorded after the success"),
    ("succeeded", [attempt(1, "success", 0, 200), attempt(1, "success", 0, 200)],
     [post(1, 0, 200)], "succeeded with 2 success attempts"),
    ("retrying", [attempt(1, "transient", 0, 503)], [], "endpoint has no POST for it"),
], ids=["lost", "ignored-2xx", "hidden-resend", "success-unseen", "unrecorded-send",
        "send-after-success", "double-log", "missing-post"])
def test_each_rule_flags_its_violation(status: str, attempts: list[dict[str, Any]],
                                       posts: list[dict[str, Any]], expected: str) -> None:
    problems = run(status, attempts, posts).problems
    assert any(expected in p for p in problems), problems


def test_a_job_whose_message_is_still_held_is_stuck_not_lost() -> None:
    result = run("retrying", [attempt(1, "transient", 0, 503)], [post(1, 0, 503)],
                 held="unacked")
    assert (result.lost, result.stuck) == ([], ["job-1"])


def test_dead_letters_must_match_dead_jobs() -> None:
    letter = {"job": {"job_id": "job-1"}, "reason": "permanent"}
    assert run("dead", [attempt(1, "permanent", 0, 400)], [post(1, 0, 400)],
               dead_reason="permanent", letters=[letter]).problems == []
    assert "dead but not in the dead-letter store" in run(
        "dead", [attempt(1, "permanent", 0, 400)], [post(1, 0, 400)],
        dead_reason="permanent").problems[0]
    assert "in the dead-letter store but succeeded" in run(
        "succeeded", *SENT_ONCE, letters=[letter]).problems[0]
