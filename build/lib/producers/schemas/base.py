"""Schema bases: closed objects, open objects, and "one of" groups.

- `ContractSchema`: every field of the object is known, so an unknown key is an error
  (§1.1: the server may silently drop it, INFERRED), with a hint when it looks like a
  typo ("did you mean 'platforms'?").
- `OpenSchema`: the reference does not list every field of the object (per-platform
  content, schedule, transactional). Unknown keys are sent as they are if they hold
  JSON, but one that looks like a typo of a known field is refused, and strict mode
  refuses them all.
- `Group`: a protobuf `oneof` (§1.1 SEEN) or an "at least one of" rule, checked on the
  raw keys so the error names the offending field.

All of these object-level rules live in `object_errors()`; marshmallow is told to
INCLUDE unknown keys so that the policy above is the only one. `load()` takes a faster
route than marshmallow's on the same fields and rules (see `producers.schemas.loader`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import INCLUDE, Schema, ValidationError, validates_schema

from producers.schemas import loader
from producers.schemas.jsonvalues import json_errors
from producers.schemas.loader import SCHEMA_KEY, add_error
from producers.schemas.options import current
from producers.schemas.typos import did_you_mean

UNCONFIRMED = "Not confirmed by the reference; not accepted in strict mode."


@dataclass(frozen=True)
class Group:
    """`keys` that exclude each other (`exclusive`) and/or of which one is needed (`required`)."""

    keys: tuple[str, ...]
    required: bool = True
    exclusive: bool = True

    def errors(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        present = [key for key in self.keys if key in data]
        names = ", ".join(self.keys)
        if not present and self.required:
            verb = "Exactly" if self.exclusive else "At least"
            return {SCHEMA_KEY: [f"{verb} one of {names} is required."]}
        if self.exclusive and len(present) > 1:
            text = f"Cannot be combined with '{present[0]}': set only one of {names}."
            return {key: [text] for key in present[1:]}
        return {}


class ContractSchema(Schema):
    """A JSON object whose fields are all known: unknown keys are errors."""

    class Meta:
        unknown = INCLUDE  # unknown keys are judged by object_errors(), not by marshmallow

    error_messages = {"type": "Not a valid object.", "unknown": "Unknown field."}
    closed: ClassVar[bool] = True
    #: "one of" rules of this object, checked after the fields.
    groups: ClassVar[tuple[Group, ...]] = ()
    #: Declared fields that only third-party guesses support: refused in strict mode.
    unconfirmed: ClassVar[frozenset[str]] = frozenset()
    #: What an unknown key is called in messages.
    extra_noun: ClassVar[str] = "field"

    def load(self, data: Any, *, many: Any = None, partial: Any = None, unknown: Any = None) -> Any:
        """marshmallow's `load`; the plain case (one object, no partial) takes the fast route."""
        if loader.FAST and not (many or self.many or partial or self.partial) and unknown is None:
            return loader.load_object(self, data)
        return super().load(data, many=many, partial=partial, unknown=unknown)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _check_object(self, data: Any, original: Any, **kwargs: Any) -> None:
        if isinstance(original, Mapping) and (errors := self.object_errors(original)):
            raise ValidationError(errors)

    def object_errors(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Errors of the object as a whole: unknown keys, groups, strict-only fields."""
        errors: dict[Any, Any] = {}
        known = loader.known_keys(self)
        for key in data:
            if key not in known and (problem := self.extra_key_problem(key, data[key])):
                errors[key] = problem
        for group in self.groups:
            for key, messages in group.errors(data).items():
                add_error(errors, key, messages)
        if self.unconfirmed and current().strict:
            for key in [key for key in data if key in self.unconfirmed]:  # in the data's order
                add_error(errors, key, [UNCONFIRMED])
        return errors

    def extra_key_problem(self, key: Any, value: Any) -> Any:
        """Messages for an unknown key; a closed object refuses them all."""
        return self._misspelling(key) or [f"Unknown {self.extra_noun}."]

    def _misspelling(self, key: Any) -> list[str] | None:
        if not isinstance(key, str):
            return ["Key is not a string."]
        guess = did_you_mean(key, loader.known_keys(self))
        return [f"Unknown {self.extra_noun}; did you mean '{guess}'?"] if guess else None


class OpenSchema(ContractSchema):
    """A JSON object whose field list is incomplete in the reference: see the module doc."""

    closed: ClassVar[bool] = False

    def extra_key_problem(self, key: Any, value: Any) -> Any:
        """Typos, and in strict mode every unknown key, are refused; others need JSON values."""
        if problem := self._misspelling(key):
            return problem
        if current().strict:
            return [f"Unknown {self.extra_noun}; not accepted in strict mode."]
        return json_errors(value, 1)
