"""The notify contract as JSON Schema (2020-12) or OpenAPI 3.1, generated from the schemas.

apispec turns each marshmallow schema into a JSON Schema object; `ContractConverter`
adds what apispec cannot see: closed vs open objects (`additionalProperties`), the
"one of" groups and the payload rule, `propertyNames` for locale keys, quoted int64,
and, with `strict=True`, the contract of strict mode (unconfirmed fields and enum names
left out, every object closed). A few checks stay Python-only and are listed in the
`$comment` of the document: calendar dates, e-mail and URL syntax, typo hints, and the
configurable id-list cap (1000 here).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_instance

from producers.schemas.base import ContractSchema
from producers.schemas.content import ContentSchema
from producers.schemas.fields import EnumName, Int
from producers.schemas.jsonvalues import Opaque
from producers.schemas.payload import OpenActions, PayloadSchema
from producers.schemas.request import NotifyRequestSchema

TITLE = "Pushwoosh Messaging API v2 notify request (notify-relay contract)"
VERSION = "2"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMMENT = (
    "Generated from producers.schemas. Python-only checks: calendar validity of "
    "timestamps, e-mail and URL syntax, typo hints for unknown keys, and the per-list "
    "id cap, configurable there (1000 here)."
)
_SILENT_TRUE = {"required": ["silent"], "properties": {"silent": {"const": True}}}
#: §6: content excludes silent: true; a payload needs content, a preset or silent: true.
_PAYLOAD_RULES: list[dict[str, Any]] = [
    {"not": {"required": ["content", "silent"], "properties": {"silent": {"const": True}}}},
    {"anyOf": [{"required": ["content"]}, {"required": ["preset"]}, _SILENT_TRUE]},
]


class ContractConverter(OpenAPIConverter):
    """apispec's converter plus the object rules of `ContractSchema`."""

    strict = False

    def init_attribute_functions(self) -> None:
        super().init_attribute_functions()
        self.add_attribute_function(contract_field_properties)

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        instance = resolve_schema_instance(schema)
        result = super().schema2jsonschema(instance)
        if isinstance(instance, ContractSchema):
            self._add_object_rules(instance, result)
        return result

    def _add_object_rules(self, schema: ContractSchema, result: dict[str, Any]) -> None:
        doc = inspect.getdoc(type(schema)) or ""
        result["description"] = doc.split("\n\n")[0].replace("\n", " ")
        result["additionalProperties"] = not (schema.closed or self.strict)
        if isinstance(schema, ContentSchema) and not self.strict:
            result["additionalProperties"] = {"type": "object"}  # §7: unlisted blocks
        if self.strict:
            _drop_unconfirmed(schema, result)
        rules = [
            _group_rule(group.keys, group.exclusive, group.required) for group in schema.groups
        ]
        if isinstance(schema, PayloadSchema):
            rules.extend(copy.deepcopy(_PAYLOAD_RULES))
        if rules:
            result["allOf"] = rules


def contract_field_properties(self: ContractConverter, field: Any, **kwargs: Any) -> dict:
    """Properties apispec does not emit for our fields (an apispec attribute function)."""
    extra: dict[str, Any] = {}
    for key in ("propertyNames", "contentEncoding"):
        if key in field.metadata:
            extra[key] = field.metadata[key]
    if isinstance(field, EnumName):
        names = [n for n in field.metadata["enum"] if n in field.names or not self.strict]
        extra["enum"] = names
    if isinstance(field, Int) and field.int64:  # §1.1: an int64 may be quoted
        extra["type"] = ["integer", "string"]
        extra["pattern"] = "^-?[0-9]{1,19}$"
    return extra


class ContractPlugin(MarshmallowPlugin):
    Converter = ContractConverter

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__()
        self.strict = strict

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        assert isinstance(self.converter, ContractConverter)
        self.converter.strict = self.strict


def openapi(*, strict: bool = False) -> dict[str, Any]:
    """An OpenAPI 3.1 document for `POST /messaging/v2/notify` with the request contract."""
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[ContractPlugin(strict=strict)],
        info={"description": COMMENT},
    )
    spec.components.schema("NotifyRequest", schema=NotifyRequestSchema)
    spec.components.security_scheme(
        "Token",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Authorization: Token <API_TOKEN> (§1, SEEN)",
        },
    )
    spec.path(path="/messaging/v2/notify", operations=_notify_operation())
    return spec.to_dict()


def json_schema(*, strict: bool = False) -> dict[str, Any]:
    """A standalone JSON Schema (2020-12) document for one NotifyRequest."""
    components = openapi(strict=strict)["components"]["schemas"]
    defs = _rewrite_refs(components)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": TITLE + (" (strict mode)" if strict else ""),
        "$comment": COMMENT,
        "$ref": "#/$defs/NotifyRequest",
        "$defs": defs,
    }


def _notify_operation() -> dict[str, Any]:
    error = {
        "type": "object",
        "description": "gRPC-Gateway error envelope (§13.1)",
        "properties": {
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"type": "object"}},
        },
    }
    return {
        "post": {
            "summary": "Create and schedule one message (§1)",
            "security": [{"Token": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": "NotifyRequest"}},
            },
            "responses": {
                "200": {"description": "Created; the body carries message_code (§12)"},
                "default": {
                    "description": "Error (§13)",
                    "content": {"application/json": {"schema": error}},
                },
            },
        }
    }


def _group_rule(keys: tuple[str, ...], exclusive: bool, required: bool) -> dict[str, Any]:
    each = [{"required": [key]} for key in keys]
    if exclusive and required:
        return {"oneOf": each}
    if required:
        return {"anyOf": each}
    pairs = [{"required": [a, b]} for i, a in enumerate(keys) for b in keys[i + 1 :]]
    return {"not": {"anyOf": pairs}}


def _drop_unconfirmed(schema: ContractSchema, result: dict[str, Any]) -> None:
    properties = result.get("properties", {})
    for name, field in schema.fields.items():
        key = field.data_key or name
        if name in schema.unconfirmed or isinstance(field, Opaque | OpenActions):
            properties.pop(key, None)
            if key in result.get("required", []):
                result["required"].remove(key)


def _rewrite_refs(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: item.replace("#/components/schemas/", "#/$defs/")
            if key == "$ref"
            else _rewrite_refs(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(item) for item in value]
    return value
