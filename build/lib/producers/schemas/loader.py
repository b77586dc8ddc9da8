"""The fast route of `ContractSchema.load`: visit the keys that are there, not every field.

marshmallow's `Schema.load` calls every declared field, present or not, through
`Field.deserialize`; a platform block declares 12 fields and usually carries 2. This
route visits the keys present, calls each field's `_deserialize` directly when the field
has no validators or hooks around it (`field_loader`), then applies the same object rules
(`object_errors`). Same result, same errors, about 4x faster on the reference's first
example (benchmarks/bench_validation.py). The test suite checks the sameness on every
corpus case and on generated ones by switching `FAST` off, which sends every load
through marshmallow's own code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError

if TYPE_CHECKING:
    from marshmallow import Schema
    from marshmallow.fields import Field

#: Off: every load goes through marshmallow's own `Schema.load` (used by the tests).
FAST = True
SCHEMA_KEY = "_schema"

FieldLoader = Callable[..., Any]
_Plan = tuple[dict[str, tuple[str, FieldLoader]], tuple[tuple[str, "Field"], ...], frozenset[str]]


def load_object(schema: Any, data: Any) -> dict[str, Any]:
    """Load one object with `schema` (a ContractSchema); raise like marshmallow does."""
    if not isinstance(data, Mapping):
        raise ValidationError({SCHEMA_KEY: [schema.error_messages["type"]]}, data=data)
    by_key, required, _ = _plan(schema)
    result: dict[str, Any] = {}
    errors: dict[Any, Any] = {}
    for key, value in data.items():
        entry = by_key.get(key)
        if entry is None:
            result[key] = value  # an unknown key: object_errors() judges it
            continue
        try:
            result[entry[0]] = entry[1](value, key, data)
        except ValidationError as exc:
            errors[key] = exc.messages
    for key, field in required:
        if key not in data:
            errors[key] = [field.error_messages["required"]]
    for key, messages in schema.object_errors(data).items():
        add_error(errors, key, messages)
    if errors:
        raise ValidationError(errors, data=data, valid_data=result)
    return result


def known_keys(schema: Schema) -> frozenset[str]:
    """The JSON keys `schema` declares (data_key or field name)."""
    return _plan(schema)[2]


def field_loader(field: Field) -> FieldLoader:
    """`field.deserialize`, minus the wrapping when there is nothing to wrap.

    `Field.deserialize` checks for missing values (never passed here), refuses None
    (`allow_none` is off), runs pre-load hooks, `_deserialize`, validators and post-load
    hooks. A field without validators or hooks (all of ours) needs only the None check,
    which halves the cost of a field.
    """
    hooks = getattr(field, "pre_load", None) or getattr(field, "post_load", None)
    if field.validators or field.allow_none or hooks:
        return field.deserialize
    null, inner = field.error_messages["null"], field._deserialize

    def load(value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if value is None:
            raise ValidationError(null)
        return inner(value, attr, data, **kwargs)

    return load


def _plan(schema: Schema) -> _Plan:
    plan = schema.__dict__.get("_contract_plan")
    if plan is None:
        fields = {(f.data_key or name): (name, f) for name, f in schema.load_fields.items()}
        by_key = {
            key: (field.attribute or name, field_loader(field))
            for key, (name, field) in fields.items()
        }
        required = tuple((key, field) for key, (_, field) in fields.items() if field.required)
        plan = schema.__dict__["_contract_plan"] = (by_key, required, frozenset(fields))
    return plan


def add_error(errors: dict[Any, Any], key: Any, messages: Any) -> None:
    """Merge object-level `messages` into `errors[key]` as marshmallow's error store does."""
    held = errors.get(key)
    if held is None:
        errors[key] = messages
    elif isinstance(held, dict):
        held.setdefault(SCHEMA_KEY, []).extend(messages)
    else:
        held.extend(messages)
