"""Free-form JSON: `custom_data`, `meta_data`, and the structures whose fields are NOT FOUND.

Task messages are JSON and the server reads protobuf JSON, so a free-form value must be
plain JSON all the way down: str keys, finite numbers, no Python objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields

from producers.schemas.options import current

#: INFERRED: protobuf parsers cap message nesting (100 in the C++ and Java runtimes).
MAX_JSON_DEPTH = 100


def json_errors(value: Any, depth: int = 0) -> Any:
    """None when `value` is plain JSON, else messages keyed like marshmallow's."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else ["Must be a finite number."]
    if depth >= MAX_JSON_DEPTH:
        return [f"Nested deeper than {MAX_JSON_DEPTH} levels."]
    if isinstance(value, Mapping):
        return _object_errors(value, depth + 1)
    if isinstance(value, list | tuple):
        found = {i: e for i, item in enumerate(value) if (e := json_errors(item, depth + 1))}
        return found or None
    return [f"Not a JSON value ({type(value).__name__})."]


def _object_errors(value: Mapping[Any, Any], depth: int) -> Any:
    found: dict[Any, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            found[key] = ["Key is not a string."]
        elif (problem := json_errors(item, depth)) is not None:
            found[key] = problem
    return found or None


class JsonObject(fields.Dict):
    """A free-form JSON object: any keys, any JSON values, inner keys unchecked."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError("Not a valid object.")
        problem = _object_errors(value, 1)
        if problem is not None:
            raise ValidationError(problem)
        return value


class Opaque(JsonObject):
    """A structure whose fields the reference does not list (NOT FOUND).

    Accepted as a JSON object with its inner keys unchecked; refused in strict mode.
    """

    def __init__(self, what: str, **kwargs: Any) -> None:
        metadata = {"description": f"{what}: fields NOT FOUND in the reference; unchecked."}
        super().__init__(metadata=metadata, **kwargs)
        self.what = what

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if current().strict:
            raise ValidationError(
                f"{self.what} is not checked (fields unknown); not accepted in strict mode."
            )
        return super()._deserialize(value, attr, data, **kwargs)
