"""The fault book on its own: parsing, order, counts, expiry and seeded rolls (time passed in)."""

from __future__ import annotations

import pytest

from emulator import faults
from emulator.faults import FaultBook, FaultError
from emulator.notify import FAULT_ACTIONS

APP = {"kind": "transactional", "application": "ABCDE-12345"}


def test_every_fault_kind_has_an_action_and_a_default_status():
    assert set(FAULT_ACTIONS) == set(faults.KINDS) == set(faults.DEFAULT_STATUS)


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
        ({"kind": "respond", "headers": {"Retry-After": "€"}}, "faults[0].headers"),
        ({"kind": "respond", "headers": {"Bad Name": "1"}}, "faults[0].headers"),
        ({"kind": "drip", "drip_interval_s": 0}, "faults[0].drip_interval_s"),
        ({"kind": "drip", "pad_bytes": -1}, "faults[0].pad_bytes"),
        ({"kind": "drip", "framing": "gzip"}, "faults[0].framing"),
        ({"kind": "gzip_bomb", "inflated_mb": 0}, "faults[0].inflated_mb"),
        ({"kind": "gzip_bomb", "inflated_mb": 5000}, "faults[0].inflated_mb"),
        ({"kind": "huge_body", "size_mb": -1}, "faults[0].size_mb"),
        ({"kind": "deep_nesting", "depth": 0}, "faults[0].depth"),
        ({"kind": "deep_nesting", "depth": 2.5}, "faults[0].depth"),
        ({"kind": "gzip_bomb", "size_mb": 5}, "faults[0].size_mb"),  # another kind's field
        ({"kind": "respond", "hang_s": 5}, "faults[0].hang_s"),
        ({"kind": "huge_body", "body": "x"}, "faults[0].body"),
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


def test_the_new_kinds_take_their_defaults():
    book = FaultBook()
    drip, bomb, huge, deep = book.add(
        [{"kind": k} for k in ("drip", "gzip_bomb", "huge_body", "deep_nesting")], now=0.0
    )
    assert (drip.status, drip.drip_interval_s, drip.pad_bytes, drip.framing) == (
        200,
        1.0,
        0,
        "length",
    )
    assert (bomb.status, bomb.inflated_mb) == (200, 200.0)
    assert (huge.status, huge.size_mb) == (200, 50.0)
    assert (deep.status, deep.depth) == (200, 200_000)


def test_a_field_of_another_kind_is_refused_naming_the_kinds_it_is_for():
    with pytest.raises(FaultError, match=r"size_mb: only for kind huge_body, not gzip_bomb"):
        FaultBook().add([{"kind": "gzip_bomb", "size_mb": 5}], now=0.0)
