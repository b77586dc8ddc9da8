"""Hypothesis: generated valid requests round-trip unchanged; rule-breaking mutations are
rejected at the mutated path; arbitrary JSON never raises anything but ValidationError."""

from __future__ import annotations

import base64
import copy
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError as MarshmallowError
from marshmallow import fields as ma_fields

from producers.schemas import loader
from producers.schemas.enums import (
    PLATFORMS_CONFIRMED,
    DeliveryPriority,
    LiveUpdateOperation,
    MessageType,
    Priority,
    names,
)
from producers.schemas.locales import LOCALE_KEYS
from producers.schemas.request import NotifyRequestSchema
from producers.validation import ValidationError, flatten_messages, validate

PROFILE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SCHEMA = NotifyRequestSchema()

# -- leaves -------------------------------------------------------------------------------
texts = st.text(max_size=12)
codes = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12)
app_codes = st.from_regex(r"[A-Z0-9]{5}-[A-Z0-9]{5}", fullmatch=True)
emails = st.sampled_from(["a@example.com", "news@example.org", "x.y+z@mail.example.net"])
urls = st.sampled_from(
    ["https://example.com/u", "http://example.org/x?y=1", "mailto:u@example.com"]
)
locales = st.sampled_from(sorted(LOCALE_KEYS))
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=3)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31)))  # any zone fits
    digits = draw(st.integers(0, 9))
    fraction = (
        "."
        + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
        if digits
        else ""
    )
    minutes = draw(st.none() | st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    zone = (
        "Z"
        if minutes is None
        else f"{'+-'[minutes < 0]}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    )
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}{fraction}{zone}"


durations = st.integers(0, 10**9).map(lambda n: f"{n}s") | st.decimals(
    0, 10**6, places=6, allow_nan=False, allow_infinity=False
).map(lambda d: f"{d}s")


# -- objects ------------------------------------------------------------------------------
def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


COMMON = {
    **{key: texts for key in ("title", "subtitle", "body", "icon", "image", "attachment")},
    **{key: texts for key in ("banner", "sound")},
    "sound_enabled": st.booleans(),
    "badges": st.integers(0, 999).map(str),
    "priority": st.sampled_from(names(Priority)),
    "delivery_priority": st.sampled_from(names(DeliveryPriority)),
}
live_updates = st.fixed_dictionaries(
    {"op": st.sampled_from(names(LiveUpdateOperation)), "id": codes},
    optional={
        "progress": st.integers(0, 100) | st.floats(0, 100),
        "progress_indeterminate": st.booleans(),
        "segments": st.lists(
            st.fixed_dictionaries(
                {
                    "color": st.from_regex(r"#[0-9A-Fa-f]{6}", fullmatch=True),
                    "length": st.integers(0, 50),
                }
            ),
            max_size=3,
        ),
        "extras": json_objects,
        "when": st.integers(0, 2**62) | st.integers(0, 2**62).map(str),
        "show_when": st.booleans(),
    },
)
blocks = optional(**COMMON)
android_blocks = optional(**COMMON, live_update=live_updates, root_params=json_objects)
BLOCKS = ("ios", "huawei_android", "safari", "chrome", "firefox", "ie")
contents = st.dictionaries(
    locales,
    optional(**{key: blocks for key in BLOCKS}, android=android_blocks),
    min_size=1,
    max_size=3,
).map(lambda locales_: {"localized_content": locales_})
payloads = st.one_of(
    st.fixed_dictionaries(
        {"content": contents}, optional={"silent": st.just(False), "voip_push": st.booleans()}
    ),
    st.fixed_dictionaries({"silent": st.just(True)}),
    st.fixed_dictionaries({"preset": codes}),
).flatmap(
    lambda p: st.fixed_dictionaries({}, optional={"custom_data": json_objects}).map(
        lambda extra: {**p, **extra}
    )
)
addresses = optional(name=texts, email=emails)
attachments = st.fixed_dictionaries(
    {"name": codes, "content": st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())}
)
email_payloads = st.one_of(
    st.fixed_dictionaries({"body": texts}), st.fixed_dictionaries({"email_template": codes})
).flatmap(
    lambda p: optional(
        subject=st.dictionaries(locales, texts, max_size=2),
        attachments=st.lists(attachments, max_size=2),
        list_unsubscribe=urls,
        reply_to=addresses,
        **{"from": addresses},
    ).map(lambda extra: {**p, **extra})
)
schedules = st.one_of(timestamps().map(lambda t: {"at": t}), durations.map(lambda d: {"after": d}))
id_lists = st.lists(codes, min_size=1, max_size=4).map(lambda ids: {"list": ids})


@st.composite
def bodies(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "application": draw(app_codes),
        "platforms": draw(
            st.lists(
                st.sampled_from([p.value for p in PLATFORMS_CONFIRMED]),
                min_size=1,
                max_size=4,
                unique=True,
            )
        ),
    }
    if kind == "segment":
        body[draw(st.sampled_from(["code", "expression"]))] = draw(codes)
    else:
        kinds = draw(st.sets(st.sampled_from(["hwids", "users", "push_tokens"]), min_size=1))
        body.update({key: draw(id_lists) for key in sorted(kinds)})
    key = draw(st.sampled_from(["payload", "email_payload"]))
    body[key] = draw(payloads if key == "payload" else email_payloads)
    body["schedule"] = draw(schedules)
    extras = {"message_type": st.sampled_from(names(MessageType))}
    if kind == "segment":
        extras.update(
            campaign=codes,
            dynamic_content_placeholders=st.dictionaries(codes, texts, max_size=2),
            meta_data=json_objects,
        )
    else:
        extras.update(
            return_unknown_identifiers=st.booleans(), use_latest_user_device=st.booleans()
        )
    body.update(draw(optional(**extras)))
    return body


requests = st.sampled_from(["segment", "transactional"]).flatmap(
    lambda kind: bodies(kind).map(lambda body: {kind: body})
)


# -- helpers ------------------------------------------------------------------------------
def error_paths(request: Any, **options: Any) -> list[str]:
    try:
        validate(request, **options)
    except ValidationError as exc:
        return sorted({path for path, _ in flatten_messages(exc.messages)})
    return []


@contextmanager
def marshmallow_route() -> Iterator[None]:
    loader.FAST = False
    try:
        yield
    finally:
        loader.FAST = True


def kind_of(request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = next(iter(request))
    return kind, request[kind]


GROUPS = [("code", "expression"), ("payload", "email_payload"), ("hwids", "users", "push_tokens")]


def _typo(key: str) -> str:
    return key[1] + key[0] + key[2:] if key[0] != key[1] else key + key[-1]


# Each breaker breaks one rule and returns the paths that must be reported.
def drop_required(request: dict[str, Any], pick: int) -> list[str]:
    kind, body = kind_of(request)
    key = ("application", "platforms", "schedule")[pick % 3]
    del body[key]
    return [f"{kind}.{key}"]


def misspell_key(request: dict[str, Any], pick: int) -> list[str]:
    kind, body = kind_of(request)
    key = sorted(body)[pick % len(body)]
    body[_typo(key)] = body.pop(key)
    paths = [f"{kind}.{_typo(key)}"]
    if key in ("application", "platforms", "schedule"):
        paths.append(f"{kind}.{key}")
    if any(key in group and not set(group) & set(body) for group in GROUPS):
        paths.append(kind)  # the "one of" group lost its only member
    return paths


def bad_platform(request: dict[str, Any], pick: int) -> list[str]:
    kind, body = kind_of(request)
    index = pick % len(body["platforms"])
    body["platforms"][index] = body["platforms"][index].lower()
    return [f"{kind}.platforms.{index}"]


def bad_schedule(request: dict[str, Any], pick: int) -> list[str]:
    kind, body = kind_of(request)
    key = next(iter(body["schedule"]))
    body["schedule"][key] = body["schedule"][key].replace("T", " ").replace("s", "")
    return [f"{kind}.schedule.{key}"]


def add_exclusive_partner(request: dict[str, Any], pick: int) -> list[str]:
    kind, body = kind_of(request)
    if kind == "segment" and pick % 2:
        body["expression" if "code" in body else "code"] = "x"
        return ["segment.expression"]  # a oneof reports the later key in its own order
    body["email_payload" if "payload" in body else "payload"] = (
        {"email_template": "t"} if "payload" in body else {"silent": True}
    )
    return [f"{kind}.email_payload"]


def both_kinds(request: dict[str, Any], pick: int) -> list[str]:
    kind, body = kind_of(request)
    other = "transactional" if kind == "segment" else "segment"
    request[other] = copy.deepcopy(body)
    # the group reports the second of (segment, transactional), plus the copy's own errors
    return ["transactional", *error_paths({other: body})]


def non_string_application(request: dict[str, Any], pick: int) -> list[str]:
    kind, body = kind_of(request)
    body["application"] = pick
    return [f"{kind}.application"]


BREAKERS: list[Callable[[dict[str, Any], int], list[str]]] = [
    drop_required,
    misspell_key,
    bad_platform,
    bad_schedule,
    add_exclusive_partner,
    both_kinds,
    non_string_application,
]


def json_nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_nodes(item, (*path, index))


# -- properties ---------------------------------------------------------------------------
@PROFILE
@given(requests)
def test_generated_requests_are_sent_unchanged_in_both_modes(request: dict[str, Any]) -> None:
    original = copy.deepcopy(request)
    assert validate(request) == original
    assert validate(request, strict=True) == original
    assert request == original


@PROFILE
@given(requests)
def test_generated_requests_load_and_dump_back_unchanged(request: dict[str, Any]) -> None:
    assert SCHEMA.dump(SCHEMA.load(request)) == request


@PROFILE
@given(requests, st.sampled_from(BREAKERS), st.integers(0, 1000))
def test_breaking_one_rule_is_reported_at_its_path(
    request: dict[str, Any], breaker: Callable[[dict[str, Any], int], list[str]], pick: int
) -> None:
    expected = breaker(request, pick)
    assert error_paths(request) == sorted(set(expected))


@PROFILE
@given(requests, st.data())
def test_replacing_any_node_never_raises_anything_else(request: dict[str, Any], data: Any) -> None:
    path = data.draw(st.sampled_from(list(json_nodes(request))))
    mutated: Any = data.draw(json_values)
    if path:
        mutated = copy.deepcopy(request)
        target = mutated
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = data.draw(json_values)
    fast = error_paths(mutated)
    with marshmallow_route():
        assert error_paths(mutated) == fast
    if not fast:
        assert validate(mutated) == mutated


@PROFILE
@given(json_values)
def test_arbitrary_json_is_refused_with_a_validation_error(value: Any) -> None:
    with pytest.raises(ValidationError):
        validate(value)


def all_fields() -> list[ma_fields.Field]:
    found: list[ma_fields.Field] = []
    stack: list[Any] = [NotifyRequestSchema()]
    seen: set[str] = set()
    while stack:
        schema = stack.pop()
        if type(schema).__name__ in seen:
            continue
        seen.add(type(schema).__name__)
        for field in schema.fields.values():
            found.append(field)
            inner = getattr(field, "value_field", None) or getattr(field, "inner", None)
            for candidate in (field, inner):
                if isinstance(candidate, ma_fields.Nested):
                    stack.append(candidate.schema)
    return found


FIELDS = all_fields()


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except MarshmallowError as exc:
        return "error", exc.messages


@PROFILE
@given(st.sampled_from(FIELDS), json_values | requests)
def test_direct_field_loading_matches_field_deserialize(field: Any, value: Any) -> None:
    direct = loader.field_loader(field)
    assert outcome(lambda: direct(value)) == outcome(lambda: field.deserialize(value))
