"""The generated JSON Schema / OpenAPI documents say what the marshmallow schemas say."""

from __future__ import annotations

import json
from typing import Any

import pytest

from producers.jsonschema import json_schema, openapi
from tests.producers.test_schema_corpus import INVALID, VALID, build

#: Checks that only the Python validator makes (listed in the document's $comment).
PYTHON_ONLY = {
    "at-impossible-date",  # calendar validity
    "from-email",  # e-mail syntax
    "unsubscribe-not-url",  # URL syntax
    "schedule-key-typo",  # typo hints inside open objects
    "block-key-typo",
    "block-key-camel-case",
    "block-field-typo",
    "transactional-key-typo",
    "transactional-target-typo",
}


def definitions(strict: bool = False) -> dict[str, Any]:
    return json_schema(strict=strict)["$defs"]


def test_every_part_of_the_contract_is_defined() -> None:
    assert set(definitions()) == {
        "NotifyRequest", "Segment", "Transactional", "TargetList", "Schedule", "Payload",
        "LocalizedContent", "Content", "PlatformContent", "AndroidContent", "LiveUpdate",
        "ProgressSegment", "EmailPayload", "Address", "Attachment",
    }  # fmt: skip
    assert json_schema()["$ref"] == "#/$defs/NotifyRequest"
    assert "#/components/" not in json.dumps(json_schema())


def test_oneof_groups_closed_and_open_objects() -> None:
    defs = definitions()
    assert defs["NotifyRequest"]["allOf"] == [
        {"oneOf": [{"required": ["segment"]}, {"required": ["transactional"]}]}
    ]
    assert defs["Segment"]["additionalProperties"] is False
    assert defs["Transactional"]["additionalProperties"] is True
    assert defs["Content"]["additionalProperties"] == {"type": "object"}
    assert {"anyOf": [{"required": [k]} for k in ("hwids", "users", "push_tokens")]} in defs[
        "Transactional"
    ]["allOf"]
    assert defs["Segment"]["required"] == ["application", "platforms", "schedule"]


def test_strict_mode_closes_objects_and_drops_unconfirmed_parts() -> None:
    defs = definitions(strict=True)
    assert all(d["additionalProperties"] is False for d in defs.values())
    assert "frequency_capping" not in defs["Segment"]["properties"]
    assert "open_actions" not in defs["Payload"]["properties"]
    assert "follow_user_timezone" not in defs["Schedule"]["properties"]
    assert "campaign" not in defs["Transactional"]["properties"]
    assert "campaign" in defs["Segment"]["properties"]
    platforms = defs["Segment"]["properties"]["platforms"]["items"]["enum"]
    assert "AMAZON" not in platforms
    assert "AMAZON" in definitions()["Segment"]["properties"]["platforms"]["items"]["enum"]


def test_openapi_describes_the_endpoint() -> None:
    document = openapi()
    assert document["openapi"] == "3.1.0"
    body = document["paths"]["/messaging/v2/notify"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NotifyRequest"
    }


@pytest.mark.parametrize("strict", [False, True])
def test_the_corpus_agrees_with_the_json_schema(strict: bool) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema(strict=strict))
    for case in VALID:
        accepted = validator.is_valid(case["request"])
        assert accepted == (case["strict"] or not strict), case["id"]
    for case in INVALID:
        if case.get("strict", False) != strict or "max_targets" in case:
            continue
        accepted = validator.is_valid(build(case))
        assert accepted == (case["id"] in PYTHON_ONLY), case["id"]


def test_the_document_is_deterministic_and_json() -> None:
    assert json.dumps(json_schema()) == json.dumps(json_schema())
