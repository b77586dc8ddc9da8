"""The contract corpus (tests/producers/corpus): valid requests pass unchanged, each invalid
one fails at exactly the field paths it names, through both loading routes."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from marshmallow import fields

from producers.schemas import loader
from producers.schemas.base import ContractSchema
from producers.schemas.enums import BLOCK_PLATFORMS, Platform
from producers.schemas.fields import Items, Map
from producers.schemas.request import NotifyRequestSchema
from producers.validation import ValidationError, flatten_messages, validate

CORPUS = Path(__file__).parent / "corpus"
VALID: list[dict[str, Any]] = json.loads((CORPUS / "valid.json").read_text(encoding="utf-8"))
INVALID: list[dict[str, Any]] = json.loads((CORPUS / "invalid.json").read_text(encoding="utf-8"))
BY_ID = {case["id"]: case["request"] for case in VALID}


def build(case: dict[str, Any]) -> Any:
    """The request of an invalid case: given whole, or a valid one with its patch applied."""
    if "request" in case:
        return copy.deepcopy(case["request"])
    document = copy.deepcopy(BY_ID[case["base"]])
    for op, pointer, *value in case["patch"]:
        *parents, last = pointer.split("/")[1:]
        target = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key: Any = int(last) if isinstance(target, list) else last
        if op == "set":
            target[key] = value[0]
        else:
            del target[key]
    return document


def error_paths(error: ValidationError) -> list[str]:
    return sorted(path for path, _ in flatten_messages(error.messages))


@pytest.fixture(params=["fast", "marshmallow"])
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through ContractSchema's fast route and through marshmallow's own load."""
    monkeypatch.setattr(loader, "FAST", request.param == "fast")
    return str(request.param)


def test_the_corpus_has_25_valid_and_40_invalid_cases_with_unique_ids() -> None:
    assert len(VALID) >= 25
    assert len(INVALID) >= 40
    ids = [case["id"] for case in VALID + INVALID]
    assert len(ids) == len(set(ids))
    assert all(case.get("base", VALID[0]["id"]) in BY_ID for case in INVALID)


@pytest.mark.parametrize("case", VALID, ids=lambda case: case["id"])
def test_a_valid_request_is_returned_as_given(case: dict[str, Any], route: str) -> None:
    request = case["request"]
    sent = validate(request)
    assert sent == request
    assert json.dumps(sent) == json.dumps(request)  # same keys in the same order
    assert sent is not request


@pytest.mark.parametrize("case", VALID, ids=lambda case: case["id"])
def test_strict_mode_accepts_exactly_the_cases_marked_strict(case: dict[str, Any]) -> None:
    if case["strict"]:
        assert validate(case["request"], strict=True) == case["request"]
    else:
        with pytest.raises(ValidationError):
            validate(case["request"], strict=True)


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case["id"])
def test_an_invalid_request_fails_at_exactly_its_paths(case: dict[str, Any], route: str) -> None:
    options = {"strict": case.get("strict", False)}
    if "max_targets" in case:
        options["max_targets"] = case["max_targets"]
    with pytest.raises(ValidationError) as caught:
        validate(build(case), **options)
    assert error_paths(caught.value) == sorted(case["paths"])


@pytest.mark.parametrize(
    "case", [c for c in INVALID if c.get("strict") or "max_targets" in c], ids=lambda c: c["id"]
)
def test_strict_and_cap_cases_pass_without_the_option(case: dict[str, Any]) -> None:
    assert validate(build(case)) == build(case)


def test_the_valid_corpus_uses_every_platform_and_every_listed_block() -> None:
    platforms = {p for request in BY_ID.values() for p in _body(request)["platforms"]}
    assert platforms == {p.value for p in Platform}
    blocks = {key for path, _ in _walk_corpus() for key in [path[-1]] if path[-2:-1] == ("block",)}
    assert blocks >= set(BLOCK_PLATFORMS)


def test_the_valid_corpus_sets_every_declared_field_of_every_schema() -> None:
    declared = set(_declared_fields(NotifyRequestSchema()))
    used = {(schema, key) for (schema, key), _ in _walk_corpus_fields()}
    assert declared - used == set()


def _body(request: dict[str, Any]) -> dict[str, Any]:
    return request.get("segment") or request["transactional"]


def _walk_corpus() -> Iterator[tuple[tuple[str, ...], Any]]:
    for request in BY_ID.values():
        for locales in _locales(_body(request)):
            for blocks in locales.values():
                for key, value in blocks.items():
                    yield ("block", key), value


def _locales(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    content = body.get("payload", {}).get("content")
    if content:
        yield content["localized_content"]


def _walk_corpus_fields() -> Iterator[tuple[tuple[str, str], Any]]:
    schema = NotifyRequestSchema()
    for request in BY_ID.values():
        yield from _walk(schema, request)


def _walk(schema: ContractSchema, data: dict[str, Any]) -> Iterator[tuple[tuple[str, str], Any]]:
    by_key = {field.data_key or name: field for name, field in schema.fields.items()}
    for key, value in data.items():
        field = by_key.get(key)
        if field is None:
            continue
        yield (type(schema).__name__, key), value
        yield from _walk_value(field, value)


def _walk_value(field: fields.Field, value: Any) -> Iterator[tuple[tuple[str, str], Any]]:
    if isinstance(field, fields.Nested):
        yield from _walk(field.schema, value)
    elif isinstance(field, Map) and isinstance(field.value_field, fields.Nested):
        for item in value.values():
            yield from _walk_value(field.value_field, item)
    elif isinstance(field, Items):
        for item in value:
            yield from _walk_value(field.inner, item)


def _declared_fields(schema: ContractSchema) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    stack = [schema]
    while stack:
        current = stack.pop()
        if type(current).__name__ in seen:
            continue
        seen.add(type(current).__name__)
        for name, field in current.fields.items():
            yield type(current).__name__, field.data_key or name
            stack.extend(_nested_schemas(field))


def _nested_schemas(field: fields.Field) -> list[ContractSchema]:
    if isinstance(field, fields.Nested):
        return [field.schema]
    if isinstance(field, Map) and field.value_field is not None:
        return _nested_schemas(field.value_field)
    if isinstance(field, Items):
        return _nested_schemas(field.inner)
    return []
