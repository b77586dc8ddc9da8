"""The fault book on its own: parsing, order, counts, expiry and seeded rolls (time passed in)."""

from __future__ import annotations

import pytest

from emulator import faults
from emulator.faults import FaultBook, FaultError
from emulator.notify import FAULT_ACTIONS

APP = {"kind": "transactional", "application": "ABCDE-12345"}


def test_every_fault_kind_has_an_action():
    assert set(FAULT_ACTIONS) == set(faults.KINDS)


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"kind": "explode"}, "faults[0].kind"),
        ({"status": 503}, "faults[0].kind"),
        ({"kind": "respond", "status": 99}, "faults[0].status"),
        ({"kind": "respond", "status": "503"}, "faults[0].status"),
        ({"kind": "respond", "count": 0}, "faults[0].count"),
        ({"kind": "respond", "probability": 1.5}, "faults[0].probability"),
        ({"kind": "respond", "retry_after": 2}, "faults[0].retry_after"),
        ({"kind": "respond", "match": {"app": "x"}}, "faults[0].match"),
        ({"kind": "respond", "headers": {"Content-Length": "1"}}, "faults[0].headers"),
        ({"kind": "respond", "headers": {"X": "a\r\nB: c"}}, "faults[0].headers"),
        ({"kind": "hang", "then": "explode"}, "faults[0].then"),
        ({"kind": "hang", "hang_s": -1}, "faults[0].hang_s"),
        ("respond", "faults[0]"),
    ],
)
def test_a_bad_fault_is_rejected_naming_its_field(spec, path):
    with pytest.raises(FaultError) as raised:
        FaultBook().add([spec], now=0.0)
    assert str(raised.value).startswith(f"{path}:")


def test_one_bad_fault_rejects_the_whole_list():
    book = FaultBook()
    with pytest.raises(FaultError, match=r"faults\[1\]"):
        book.add([{"kind": "close"}, {"kind": "nope"}], now=0.0)
    assert book.describe(now=0.0) == []


def test_the_first_applicable_fault_is_picked_and_spent():
    book = FaultBook()
    book.add([{"kind": "close", "count": 1, "match": {"application": "OTHER"}}], now=0.0)
    book.add([{"kind": "respond", "count": 2}], now=0.0)
    picked = [book.pick(APP, now=0.0) for _ in range(3)]
    assert [f.kind if f else None for f in picked] == ["respond", "respond", None]
    assert [f["kind"] for f in book.describe(now=0.0)] == ["close"]


def test_a_fault_expires_duration_s_after_it_was_scripted():
    book = FaultBook()
    book.add([{"kind": "respond", "duration_s": 10}], now=100.0)
    assert book.describe(now=104.0)[0]["expires_in_s"] == 6.0
    assert book.pick(APP, now=109.9) is not None
    assert book.pick(APP, now=110.0) is None
    assert book.describe(now=110.0) == []


def test_describe_shows_the_spec_with_id_and_remaining_count():
    book = FaultBook()
    spec = {"kind": "respond", "status": 429, "count": 3}
    book.add([spec], now=0.0)
    book.pick(APP, now=0.0)
    [shown] = book.describe(now=0.0)
    assert shown == {**spec, "id": 1, "remaining": 2, "expires_in_s": None}


def test_a_seeded_probability_rolls_the_same_way_each_time():
    def rolls() -> list[bool]:
        book = FaultBook()
        book.add([{"kind": "respond", "probability": 0.3, "seed": 42}], now=0.0)
        return [book.pick(APP, now=0.0) is not None for _ in range(200)]

    first = rolls()
    assert first == rolls()
    assert 30 < sum(first) < 90


def test_probability_is_rolled_only_for_matching_requests():
    book = FaultBook()
    book.add([{"kind": "respond", "probability": 0.5, "seed": 1, "match": APP}], now=0.0)
    reference = FaultBook()
    reference.add([{"kind": "respond", "probability": 0.5, "seed": 1}], now=0.0)
    mixed = []
    for _ in range(20):
        assert book.pick({"application": "OTHER"}, now=0.0) is None
        mixed.append(book.pick(APP, now=0.0) is not None)
    assert mixed == [reference.pick(APP, now=0.0) is not None for _ in range(20)]
