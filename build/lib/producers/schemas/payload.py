"""§6 `Payload`: the body of every non-email message (push, SMS, messengers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields

from producers.schemas.base import ContractSchema
from producers.schemas.content import LocalizedContentSchema
from producers.schemas.fields import Bool, Map, Text
from producers.schemas.jsonvalues import JsonObject, Opaque
from producers.schemas.loader import SCHEMA_KEY, add_error
from producers.schemas.options import current


def _platform_number_problem(key: str) -> str | None:
    # §6: open_actions keys are numeric Platform values (SEEN), so "1"-like strings in JSON.
    return None if key.isascii() and key.isdigit() else "Key must be a numeric platform value."


class OpenActions(Map):
    """§6 `open_actions`: map<Platform number, OpenAction>; OpenAction fields NOT FOUND (§6.1).

    Keys are checked; values pass as unchecked JSON objects; strict mode refuses the field.
    """

    def __init__(self, **kwargs: Any) -> None:
        description = "OpenAction per numeric Platform key: fields NOT FOUND; unchecked."
        super().__init__(
            JsonObject(),
            key_problem=_platform_number_problem,
            metadata={"description": description, "propertyNames": {"pattern": "^[0-9]+$"}},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, Any]:
        if current().strict:
            raise ValidationError(
                "OpenAction is not checked (fields unknown); not accepted in strict mode."
            )
        return super()._deserialize(value, attr, data, **kwargs)


class PayloadSchema(ContractSchema):
    """§6 `Payload`: every field is SEEN [D3], so it is closed (C3's `data` is refused, §6)."""

    preset = Text(non_empty=True)
    content = fields.Nested(LocalizedContentSchema)
    silent = Bool()
    custom_data = JsonObject()  # §6: any JSON object, delivered as the SDK's `u`
    open_action = Opaque("OpenAction")  # §6.1: fields NOT FOUND
    open_actions = OpenActions()
    voip_push = Bool()  # §6: iOS only; a warning when IOS is not targeted

    def object_errors(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        errors = super().object_errors(data)
        silent = data.get("silent", False)
        if silent is True and "content" in data:
            # §6: content and silent exclude each other (SEEN); only silent=true (INFERRED)
            add_error(errors, "silent", ["Cannot be true together with 'content'."])
        if silent is False and "content" not in data and "preset" not in data:
            # INFERRED: a message needs content, a preset that holds it, or to be silent
            # (a non-bool silent is already a field error)
            add_error(errors, SCHEMA_KEY, ["One of content, preset or silent: true is required."])
        return errors
