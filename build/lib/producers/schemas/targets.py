"""§4 transactional targets: `hwids`, `users`, `push_tokens` as `{"list": [...]}`."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

from producers.schemas.base import ContractSchema
from producers.schemas.fields import Items, Text
from producers.schemas.options import DEFAULT_MAX_TARGETS, current


def _max_targets() -> int:
    return current().max_targets


class TargetListSchema(ContractSchema):
    """§4: `{"list": [id, ...]}`, the wrapper C1, C2 and C3 agree on (SEEN-3P); closed.

    At least one id (INFERRED: an empty list targets nobody); at most `max_targets`
    (§14: NOT FOUND for v2, default 1000 as in v1.3).
    """

    list = Items(
        Text(non_empty=True),
        required=True,
        min_items=1,
        max_items=_max_targets,
        metadata={"maxItems": DEFAULT_MAX_TARGETS},
    )


class TargetList(fields.Nested):
    """A `TargetListSchema` that explains the wrapper when given a bare v1.3-style array."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(TargetListSchema, **kwargs)

    def _deserialize(
        self, value: Any, attr: Any, data: Any, partial: Any = None, **kwargs: Any
    ) -> Any:
        if isinstance(value, list | tuple):
            raise ValidationError('Not a valid object: wrap the ids as {"list": [...]}.')
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)
