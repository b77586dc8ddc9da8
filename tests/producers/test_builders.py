"""The typed builders produce exactly what the contract accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.builders import duration, rfc3339, schedule, segment_push, transactional_push
from producers.schemas.enums import BLOCK_PLATFORMS, MessageType, Platform
from producers.schemas.locales import LOCALE_KEYS
from producers.validation import validate

PUSH_PLATFORMS = sorted(p.value for p in BLOCK_PLATFORMS.values())


def test_a_segment_push_is_the_reference_shape() -> None:
    request = segment_push(
        "ABCDE-12345",
        [Platform.IOS, "ANDROID"],
        code="active_users",
        title="Sale",
        body={"default": "20% off today", "es": "20% hoy"},
        at=datetime(2026, 5, 1, 11, 0, tzinfo=timezone(timedelta(hours=2))),
        custom_data={"screen": "promo"},
        message_type=MessageType.MARKETING,
        campaign="SPRING-2026",
    )
    sale = {"title": "Sale", "body": "20% off today"}
    oferta = {"title": "Sale", "body": "20% hoy"}
    assert request == {
        "segment": {
            "application": "ABCDE-12345",
            "platforms": ["IOS", "ANDROID"],
            "code": "active_users",
            "payload": {
                "content": {
                    "localized_content": {
                        "default": {"ios": sale, "android": sale},
                        "es": {"ios": oferta, "android": oferta},
                    }
                },
                "custom_data": {"screen": "promo"},
            },
            "schedule": {"at": "2026-05-01T09:00:00Z"},
            "message_type": "MESSAGE_TYPE_MARKETING",
            "campaign": "SPRING-2026",
        }
    }
    assert validate(request, strict=True) == request


def test_a_transactional_push_wraps_ids_and_is_sent_now_by_default() -> None:
    request = transactional_push(
        "ABCDE-12345", ["IOS"], users=["u1", "u2"], hwids=("h1",), body="Your code is 4821"
    )
    assert request == {
        "transactional": {
            "application": "ABCDE-12345",
            "platforms": ["IOS"],
            "hwids": {"list": ["h1"]},
            "users": {"list": ["u1", "u2"]},
            "payload": {
                "content": {
                    "localized_content": {"default": {"ios": {"body": "Your code is 4821"}}}
                }
            },
            "schedule": {"after": "0s"},
            "message_type": "MESSAGE_TYPE_TRANSACTIONAL",
        }
    }
    assert validate(request, strict=True) == request


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: segment_push("A", ["IOS"], body="x"), ValueError),
        (lambda: segment_push("A", ["IOS"], body="x", code="c", expression="e"), ValueError),
        (lambda: segment_push("A", "IOS", body="x", code="c"), TypeError),
        (lambda: segment_push("A", ["EMAIL"], body="x", code="c"), ValueError),
        (lambda: segment_push("A", ["ios"], body="x", code="c"), ValueError),
        (lambda: segment_push("A", ["IOS"], body="x", title={"fr": "t"}, code="c"), ValueError),
        (lambda: transactional_push("A", ["IOS"], body="x"), ValueError),
        (lambda: transactional_push("A", ["IOS"], body="x", users="u1"), TypeError),
        (lambda: schedule(at="2026-05-01T09:00:00Z", after=5), ValueError),
        (lambda: rfc3339(datetime(2026, 5, 1)), ValueError),
        (lambda: duration(-1), ValueError),
        (lambda: duration(float("nan")), ValueError),
        (lambda: duration(True), TypeError),
    ],
)
def test_misuse_fails_at_build_time(call: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()


@pytest.mark.parametrize(
    ("delay", "text"),
    [
        (0, "0s"),
        (3600, "3600s"),
        (1.5, "1.5s"),
        (timedelta(minutes=1, microseconds=5), "60.000005s"),
    ],
)
def test_durations(delay: Any, text: str) -> None:
    assert duration(delay) == text


def test_timestamps_are_utc_with_only_the_fraction_needed() -> None:
    assert rfc3339(datetime(2026, 5, 1, 9, 0, 0, 500000, tzinfo=UTC)) == "2026-05-01T09:00:00.5Z"


texts = st.text(min_size=1, max_size=10)
ids = st.lists(st.text("abc123-", min_size=1, max_size=8), min_size=1, max_size=5)
bodies = texts | st.dictionaries(
    st.sampled_from(sorted(LOCALE_KEYS)), texts, min_size=1, max_size=3
)
whens = st.none() | st.datetimes(timezones=st.just(UTC)) | st.integers(0, 10**6) | st.floats(0, 1e6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    platforms=st.lists(st.sampled_from(PUSH_PLATFORMS), min_size=1, max_size=4),
    body=bodies,
    title=st.none() | texts,
    when=whens,
    audience=st.sampled_from(["code", "expression"]),
)
def test_any_segment_push_validates(
    platforms: list[str], body: Any, title: Any, when: Any, audience: str
) -> None:
    timing = {"at": when} if isinstance(when, datetime) else {"after": when}
    request = segment_push(
        "ABCDE-12345", platforms, body=body, title=title, **{audience: "x"}, **timing
    )
    assert validate(request) == request


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(users=st.none() | ids, hwids=st.none() | ids, tokens=ids, body=bodies)
def test_any_transactional_push_validates(users: Any, hwids: Any, tokens: Any, body: Any) -> None:
    request = transactional_push(
        "ABCDE-12345", ["IOS", "ANDROID"], users=users, hwids=hwids, push_tokens=tokens, body=body
    )
    assert validate(request, strict=True) == request
