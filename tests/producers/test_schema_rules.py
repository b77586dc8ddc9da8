"""Rules the JSON corpus cannot express: Python values, options, messages, warnings."""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime
from typing import Any

import pytest

from producers.schemas.enums import Platform
from producers.schemas.fields import is_rfc3339
from producers.schemas.jsonvalues import MAX_JSON_DEPTH
from producers.schemas.request import NotifyRequestSchema
from producers.schemas.typos import did_you_mean
from producers.validation import (
    REQUEST_LIMIT_BYTES,
    ValidationError,
    flatten_messages,
    request_json,
    validate,
    validate_many,
    warnings,
)

V1: dict[str, Any] = {
    "segment": {
        "application": "ABCDE-12345",
        "platforms": ["IOS", "ANDROID"],
        "code": "active_users",
        "payload": {
            "content": {
                "localized_content": {
                    "default": {
                        "ios": {"title": "Sale", "body": "20% off"},
                        "android": {"body": "x"},
                    }
                }
            },
            "custom_data": {"screen": "promo"},
        },
        "schedule": {"at": "2026-05-01T09:00:00Z"},
    }
}
USERS: dict[str, Any] = {
    "transactional": {
        "application": "ABCDE-12345",
        "platforms": ["IOS"],
        "users": {"list": ["u1"]},
        "payload": {"silent": True},
        "schedule": {"after": "0s"},
    }
}


def paths(error: ValidationError) -> list[str]:
    return sorted(path for path, _ in flatten_messages(error.messages))


def rejected(request: Any, **options: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate(request, **options)
    return paths(caught.value)


def with_custom_data(value: Any) -> dict[str, Any]:
    request = copy.deepcopy(V1)
    request["segment"]["payload"]["custom_data"] = value
    return request


@pytest.mark.parametrize("value", [None, 1, 1.5, True, "{}", b"{}", [], [V1], ("segment",)])
def test_anything_but_an_object_is_a_validation_error(value: Any) -> None:
    assert rejected(value) == ["_schema"]


TEXT = "Not a valid string."


def test_the_terminal_form_names_the_dotted_path() -> None:
    request = copy.deepcopy(V1)
    request["segment"]["payload"]["content"]["localized_content"]["en"] = {"ios": {"body": 3}}
    with pytest.raises(ValidationError) as caught:
        validate(request)
    assert str(caught.value) == (
        "segment.payload.content.localized_content.en.ios.body: Not a valid string."
    )
    assert caught.value.messages == {
        "segment": {
            "payload": {"content": {"localized_content": {"en": {"ios": {"body": [TEXT]}}}}}
        }
    }


def test_an_object_level_error_is_printed_at_the_object_path() -> None:
    request = copy.deepcopy(V1)
    del request["segment"]["code"]
    with pytest.raises(ValidationError) as caught:
        validate(request)
    assert caught.value.messages == {
        "segment": {"_schema": ["Exactly one of code, expression, filter_expression is required."]}
    }
    assert str(caught.value) == (
        "segment: Exactly one of code, expression, filter_expression is required."
    )


def test_the_result_is_a_plain_copy_and_nothing_is_added() -> None:
    request = copy.deepcopy(V1)
    request["segment"]["platforms"] = (Platform.IOS, "ANDROID")
    sent = validate(request)
    assert sent["segment"]["platforms"] == ["IOS", "ANDROID"]
    assert type(sent["segment"]["platforms"][0]) is str
    assert "message_type" not in sent["segment"]
    sent["segment"]["payload"]["custom_data"]["screen"] = "changed"
    assert request["segment"]["payload"]["custom_data"]["screen"] == "promo"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"n": float("nan")}, "segment.payload.custom_data.n"),
        ({"n": [1, float("inf")]}, "segment.payload.custom_data.n.1"),
        ({"when": datetime(2026, 1, 1)}, "segment.payload.custom_data.when"),
        ({"ids": {1, 2}}, "segment.payload.custom_data.ids"),
        ({1: "x"}, "segment.payload.custom_data.1"),
        ({"raw": b"x"}, "segment.payload.custom_data.raw"),
    ],
)
def test_free_form_objects_must_be_plain_json(value: Any, path: str) -> None:
    assert rejected(with_custom_data(value)) == [path]


def test_free_form_nesting_is_capped() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_JSON_DEPTH + 5):
        deep = {"k": deep}
    error = rejected(with_custom_data(deep))
    assert len(error) == 1
    assert error[0].startswith("segment.payload.custom_data.k.k.k")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("application",), b"ABCDE-12345"),
        (("platforms",), {"IOS"}),
        (("schedule", "at"), datetime(2026, 5, 1)),
    ],
)
def test_python_values_that_are_not_json_are_refused(path: tuple[str, ...], value: Any) -> None:
    request = copy.deepcopy(V1)
    target = request["segment"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert rejected(request) == ["segment." + ".".join(path)]


@pytest.mark.parametrize(
    ("where", "value", "valid"),
    [
        ("when", "9223372036854775807", True),
        ("when", "9223372036854775808", False),
        ("when", 2**63, False),
        ("when", "1e3", False),
        ("after", "315576000000s", True),
        ("after", "315576000000.5s", False),
        ("after", "1e3s", False),
    ],
)
def test_protobuf_ranges(where: str, value: Any, valid: bool) -> None:
    request = copy.deepcopy(V1)
    if where == "after":
        request["segment"]["schedule"] = {"after": value}
        path = "segment.schedule.after"
    else:
        android = request["segment"]["payload"]["content"]["localized_content"]["default"]
        android["android"]["live_update"] = {"op": "OPERATION_END", "id": "x", "when": value}
        path = "segment.payload.content.localized_content.default.android.live_update.when"
    if valid:
        assert validate(request) == request
    else:
        assert rejected(request) == [path]


def test_the_id_list_cap_defaults_to_1000_and_can_be_raised() -> None:
    request = copy.deepcopy(USERS)
    request["transactional"]["users"]["list"] = [f"u{i}" for i in range(1000)]
    assert validate(request) == request
    request["transactional"]["users"]["list"].append("one-too-many")
    assert rejected(request) == ["transactional.users.list"]
    assert validate(request, max_targets=5000) == request


@pytest.mark.parametrize("cap", [0, -1, True, 1.5])
def test_a_bad_cap_is_a_programming_error(cap: Any) -> None:
    with pytest.raises(ValueError, match="max_targets"):
        validate(USERS, max_targets=cap)


def test_strict_mode_lasts_for_one_call_only() -> None:
    request = copy.deepcopy(V1)
    request["segment"]["send_rate"] = {"per_second": 10}
    assert rejected(request, strict=True) == ["segment.send_rate"]
    assert validate(request) == request


def test_strict_mode_in_one_thread_does_not_leak_into_another() -> None:
    request = copy.deepcopy(V1)
    request["segment"]["send_rate"] = {"per_second": 10}
    outcomes: list[bool] = []

    def lenient() -> None:
        outcomes.extend(validate(request) == request for _ in range(200))

    thread = threading.Thread(target=lenient)
    thread.start()
    for _ in range(200):
        assert rejected(request, strict=True) == ["segment.send_rate"]
    thread.join()
    assert outcomes == [True] * 200


def test_validate_many_keys_errors_by_index() -> None:
    bad = copy.deepcopy(V1)
    del bad["segment"]["platforms"]
    with pytest.raises(ValidationError) as caught:
        validate_many([V1, bad, USERS, "nope"])
    assert paths(caught.value) == ["1.segment.platforms", "3"]
    assert "1.segment.platforms: Missing data for required field." in str(caught.value)
    assert validate_many(iter([V1, USERS])) == [V1, USERS]


def test_validate_many_refuses_a_single_request() -> None:
    with pytest.raises(TypeError):
        validate_many(V1)


def test_the_schema_loads_and_dumps_back_unchanged() -> None:
    schema = NotifyRequestSchema()
    assert schema.dump(schema.load(V1)) == V1


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2026-05-01T09:00:00Z", True),
        ("2026-05-01T09:00:00.123456789+02:00", True),
        ("2026-05-01T09:00:00-23:59", True),
        ("2024-02-29T00:00:00Z", True),
        ("2026-05-01T09:00:00.1234567890Z", False),
        ("2026-05-01T09:00:60Z", False),
        ("2026-05-01T24:00:00Z", False),
        ("2026-05-01T09:00:00+24:00", False),
        ("2025-02-29T00:00:00Z", False),
        ("0000-01-01T00:00:00Z", False),
        ("2026-05-01T09:00Z", False),
        ("2026-5-1T09:00:00Z", False),
        ("2026-05-01T09:00:00Z\n", False),
        ("9999-12-31T23:59:59-01:00", False),
        ("0001-01-01T00:30:00+01:00", False),
        ("0001-01-01T00:00:00Z", True),
    ],
)
def test_rfc3339_timestamps(text: str, valid: bool) -> None:
    assert is_rfc3339(text) is valid


@pytest.mark.parametrize(
    ("key", "guess"),
    [
        ("plaftorms", "platforms"),
        ("Body", "body"),
        ("huaweiAndroid", "huawei_android"),
        ("andriod", "android"),
        ("tilte", "title"),
        ("sms", None),
        ("ttl", None),
        ("line", None),
        ("windows", None),
        ("category", None),
    ],
)
def test_did_you_mean(key: str, guess: str | None) -> None:
    known = frozenset(
        {"platforms", "body", "title", "huawei_android", "android", "ios", "ie", "badges"}
    )
    assert did_you_mean(key, known) == guess


def test_warnings_name_blocks_for_untargeted_platforms_and_missing_default() -> None:
    request = copy.deepcopy(V1)
    request["segment"]["platforms"] = ["ANDROID"]
    content = request["segment"]["payload"]["content"]["localized_content"]
    content["es"] = content.pop("default")
    assert warnings(validate(request)) == [
        "segment.payload.content.localized_content: neither 'default' nor 'en' is given;"
        " the reference advises one (§7).",
        "segment.payload.content.localized_content.es.ios: IOS is not in platforms;"
        " this block is not used (§7).",
    ]


def test_warnings_for_channels_and_unchecked_keys() -> None:
    request = copy.deepcopy(USERS)
    body = request["transactional"]
    body["payload"]["voip_push"] = True
    body["platforms"] = ["ANDROID", "ANDROID"]
    body["test_devices"] = {"list": ["d"]}
    assert warnings(validate(request)) == [
        "transactional.platforms: lists a platform twice.",
        "transactional.test_devices: not in the reference; sent unchecked.",
        "transactional.payload.voip_push: VoIP pushes are iOS only, and IOS is not targeted.",
    ]
    assert warnings(V1) == []


@pytest.mark.parametrize(
    "garbage", [None, [], {"segment": 3}, {"segment": {"platforms": 3, "payload": []}}]
)
def test_warnings_never_raise(garbage: Any) -> None:
    assert warnings(garbage) == []


@pytest.mark.parametrize("code", [
    "ABCDE-12345\n\x1b[31m", "ABCDE-12345\n", "\tABCDE-12345", "ABCDE\x00-12345", "ABC\x7fDE",
    "ABCDE-1234\u00e9", "ABCDE\u200b-12345", "ABCDE\u202e-12345", "ABCDE-12345\u2028",
])
def test_an_application_code_must_be_printable_ascii(code: str) -> None:
    # M3: the code names Redis keys and goes into log lines and terminals.
    for template, kind in ((V1, "segment"), (USERS, "transactional")):
        request = copy.deepcopy(template)
        request[kind]["application"] = code
        with pytest.raises(ValidationError) as caught:
            validate(request)
        [(path, text)] = flatten_messages(caught.value.messages)
        assert path == f"{kind}.application"
        assert text.startswith("Not printable ASCII: ") and "XXXXX-XXXXX" in text


def test_the_refused_character_is_named_by_kind_code_point_and_position() -> None:
    request = copy.deepcopy(V1)
    request["segment"]["application"] = "ABCDE-12345\n\x1b[31m"
    assert str(rejected_error(request)) == (
        "segment.application: Not printable ASCII: control character U+000A at position 11; "
        "an application code looks like XXXXX-XXXXX.")
    request["segment"]["application"] = "ABCDE\u200b-12345"
    assert "format character U+200B at position 5" in str(rejected_error(request))


def rejected_error(request: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate(request)
    return caught.value


@pytest.mark.parametrize("code", ["ABCDE-12345", "YOUR-APP-CODE", "VICTIM-00001:holds", "a b"])
def test_other_printable_codes_pass_with_only_a_format_warning(code: str) -> None:
    request = copy.deepcopy(V1)
    request["segment"]["application"] = code
    assert validate(request)["segment"]["application"] == code
    looks_wrong = "segment.application: does not look like an application code (XXXXX-XXXXX)."
    assert (looks_wrong in warnings(request)) == (code != "ABCDE-12345")


def with_custom_data_of(size: int) -> dict[str, Any]:
    """V1 whose compact JSON body is exactly `size` bytes (padding in custom_data)."""
    request = copy.deepcopy(V1)
    request["segment"]["payload"]["custom_data"]["pad"] = ""
    room = size - len(request_json(request))
    request["segment"]["payload"]["custom_data"]["pad"] = "x" * room
    assert len(request_json(request)) == size
    return request


def test_a_request_of_10_mb_or_more_as_posted_is_refused() -> None:
    # L5 / §14: the body must be under 10 MB; the check measures the POSTed bytes.
    assert validate(with_custom_data_of(REQUEST_LIMIT_BYTES - 1))
    error = rejected_error(with_custom_data_of(REQUEST_LIMIT_BYTES))
    assert str(error) == ("_schema: The request is 10,000,000 bytes as JSON; the API takes a "
                          "body under 10 MB (10,000,000 bytes, §14).")


def test_the_size_counts_escapes_as_sent_not_characters() -> None:
    # 1.7 M characters, 6 bytes each on the wire (\u20ac): 10.2 MB as POSTed.
    request = copy.deepcopy(V1)
    request["segment"]["payload"]["custom_data"]["pad"] = "\u20ac" * 1_700_000
    assert len(json.dumps(request, ensure_ascii=False)) < REQUEST_LIMIT_BYTES
    assert paths(rejected_error(request)) == ["_schema"]


def test_request_json_is_compact_ascii_json() -> None:
    request = copy.deepcopy(V1)
    request["segment"]["campaign"] = "caf\u00e9"
    body = request_json(request)
    assert body == json.dumps(request, separators=(",", ":")) and body.isascii()
