"""JSON-typed marshmallow fields for the notify contract.

The wire format is protobuf JSON (§1.1). marshmallow's own fields coerce ("1" -> 1,
"yes" -> True, b"x" -> "x"); these accept only the JSON type the reference names and
return the value unchanged, so loading a request gives back what will be sent.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from marshmallow import ValidationError, fields

from producers.schemas.loader import field_loader
from producers.schemas.options import current

EMPTY = "Must not be empty."
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: §1.1: google.protobuf.Duration spans +-315,576,000,000 s (10,000 years).
MAX_DURATION_SECONDS = 315_576_000_000


class AsIs:
    """Dump a value as it was loaded (marshmallow would turn "1780401600000" into an int)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class Text(AsIs, fields.String):
    """A JSON string (bytes rejected); `non_empty` for codes and identifiers.

    `pattern` (a JSON Schema regex, anchored with ^ and $) is checked with `pattern_error`.
    """

    def __init__(
        self,
        *,
        non_empty: bool = False,
        pattern: str | None = None,
        pattern_error: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.non_empty, self.pattern_error = non_empty, pattern_error
        self.regex = re.compile(pattern[1:-1]) if pattern else None
        if non_empty:
            self.metadata = {"minLength": 1, **self.metadata}
        if pattern:
            self.metadata = {"pattern": pattern, **self.metadata}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if self.non_empty and not value:
            raise ValidationError(EMPTY)
        if self.regex is not None and self.regex.fullmatch(value) is None:
            raise ValidationError(self.pattern_error)
        return value


#: M3: printable ASCII (U+0020-U+007E). JSON Schema's `$` is the end of the input (ECMA);
#: Python's jsonschema lets a final newline through, the Python check does not.
APP_CODE_PATTERN = "^[ -~]+$"


class ApplicationCode(Text):
    """§3 `application`: a Pushwoosh app code, printable ASCII only (M3).

    Codes of another form than XXXXX-XXXXX are only a warning (schemas/advice.py), but a
    control, format or non-ASCII character is refused: the code goes into Redis key names,
    log lines and terminals (security review M3, L3).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(non_empty=True, **kwargs)
        self.metadata = {"pattern": APP_CODE_PATTERN, **self.metadata}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text.isascii() and text.isprintable():
            return text
        position, char = next((i, c) for i, c in enumerate(text)
                              if not (c.isascii() and c.isprintable()))
        raise ValidationError(
            f"Not printable ASCII: {_character_kind(char)} U+{ord(char):04X} at position "
            f"{position}; an application code looks like XXXXX-XXXXX.")


def _character_kind(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc":
        return "control character"
    return "format character" if category == "Cf" else "non-ASCII character"


class Bool(AsIs, fields.Boolean):
    """A JSON true / false; marshmallow's Boolean would take "yes" or 1."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Int(AsIs, fields.Integer):
    """A JSON integer (not a bool, not 1.0); `minimum` is checked when given.

    `int64=True` also takes a decimal string: 64-bit integers may be quoted (§1.1, INFERRED).
    """

    def __init__(self, *, minimum: int | None = None, int64: bool = False, **kwargs: Any):
        super().__init__(strict=True, **kwargs)
        self.minimum, self.int64 = minimum, int64
        if minimum is not None:
            self.metadata = {"minimum": minimum, **self.metadata}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        number = value
        if self.int64 and isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
            number = int(value)
        if isinstance(number, bool) or not isinstance(number, int):
            raise self.make_error("invalid")
        if self.int64 and not INT64_MIN <= number <= INT64_MAX:
            raise ValidationError("Out of the 64-bit integer range.")
        if self.minimum is not None and number < self.minimum:
            raise ValidationError(f"Must be greater than or equal to {self.minimum}.")
        return value


class Num(AsIs, fields.Float):
    """A finite JSON number, integer or not; `minimum` is checked when given."""

    def __init__(self, *, minimum: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        if minimum is not None:
            self.metadata = {"minimum": minimum, **self.metadata}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if not math.isfinite(value):
            raise ValidationError("Must be a finite number.")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"Must be greater than or equal to {self.minimum}.")
        return value


class EnumName(fields.String):
    """An enum value written as its name (§1.1 SEEN); strict mode refuses `inferred` names."""

    def __init__(self, names: tuple[str, ...], *, inferred: tuple[str, ...] = (), **kwargs: Any):
        super().__init__(metadata={"enum": [*names, *inferred]}, **kwargs)
        self.names, self.inferred = frozenset(names), frozenset(inferred)
        self.choice_text = ", ".join(names)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and value in self.names:
            return value
        if isinstance(value, str) and value in self.inferred:
            if current().strict:
                raise ValidationError(
                    f"{value!r} is an unconfirmed name; not accepted in strict mode."
                )
            return value
        raise ValidationError(f"Must be one of: {self.choice_text}.")


# Go's RFC 3339 parser, behind gRPC-Gateway, wants upper-case T and Z and at most
# nanoseconds (§1.1, INFERRED); the date itself is checked with datetime below.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
    r"(Z|[+-]([0-9]{2}):([0-9]{2}))"
)
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def is_rfc3339(value: str) -> bool:
    """True for a real instant such as 2026-05-01T09:00:00Z or ...09:00:00.5+02:00.

    The instant must also fall within google.protobuf.Timestamp's years 1-9999 in UTC.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    sign = -1 if match.group(8)[0] == "-" else 1
    hours, minutes = (int(match.group(9)), int(match.group(10))) if match.group(9) else (0, 0)
    if hours > 23 or minutes > 59:
        return False
    try:
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


class Timestamp(Text):
    """§1.1: a google.protobuf.Timestamp, an RFC 3339 string; kept as the string given."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"format": "date-time", "pattern": RFC3339_PATTERN}, **kwargs)
        # the JSON Schema pattern above only approximates is_rfc3339 (no calendar check)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_rfc3339(text):
            raise ValidationError("Not an RFC 3339 timestamp (e.g. 2026-05-01T09:00:00Z).")
        return text


DURATION_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,9})?s$"


class Duration(Text):
    """§1.1: a google.protobuf.Duration, decimal seconds then "s" ("3600s", "1.5s").

    A negative delay means nothing for a send time, so the sign is refused (INFERRED).
    """

    def __init__(self, **kwargs: Any) -> None:
        error = 'Not a duration in seconds such as "3600s" or "1.5s".'
        super().__init__(pattern=DURATION_PATTERN, pattern_error=error, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if float(text[:-1]) > MAX_DURATION_SECONDS:
            raise ValidationError("Longer than 10,000 years.")
        return text


class Map(fields.Dict):
    """A JSON object with checked keys; errors keyed by the key itself (no "key"/"value" level)."""

    def __init__(
        self,
        values: fields.Field,
        *,
        key_problem: Callable[[str], str | None] | None = None,
        non_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(keys=Text(), values=values, **kwargs)
        self.key_problem, self.non_empty = key_problem, non_empty
        if non_empty:
            self.metadata = {"minProperties": 1, **self.metadata}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValidationError("Not a valid object.")
        if self.non_empty and not value:
            raise ValidationError(EMPTY)
        result: dict[str, Any] = {}
        errors: dict[Any, Any] = {}
        for key, item in value.items():
            problem = self._check_key(key)
            if problem is not None:
                errors[key] = [problem]
                continue
            try:
                result[key] = self._item_loader()(item, **kwargs)
            except ValidationError as exc:
                errors[key] = exc.messages
        if errors:
            raise ValidationError(errors)
        return result

    def _item_loader(self) -> Callable[..., Any]:
        found = self.__dict__.get("_loader")
        if found is None:
            assert self.value_field is not None  # Map always has a value field
            found = self.__dict__["_loader"] = field_loader(self.value_field)
        return found

    def _check_key(self, key: Any) -> str | None:
        if not isinstance(key, str):
            return "Key is not a string."
        if not key:
            return "Key must not be empty."
        return self.key_problem(key) if self.key_problem else None


class Items(fields.List):
    """A JSON array (list or tuple, nothing else iterable); `max_items` may be a callable."""

    def __init__(
        self,
        inner: fields.Field,
        *,
        min_items: int = 0,
        max_items: int | Callable[[], int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(inner, **kwargs)
        self.min_items, self.max_items = min_items, max_items
        if min_items:
            self.metadata = {"minItems": min_items, **self.metadata}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise self.make_error("invalid")
        if len(value) < self.min_items:
            raise ValidationError(
                EMPTY if self.min_items == 1 else f"At least {self.min_items} items."
            )
        limit = self.max_items() if callable(self.max_items) else self.max_items
        if limit is not None and len(value) > limit:
            raise ValidationError(f"At most {limit} items, got {len(value)}.")
        result: list[Any] = []
        errors: dict[int, Any] = {}
        for index, item in enumerate(value):
            try:
                result.append(self._item_loader()(item, **kwargs))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return result

    def _item_loader(self) -> Callable[..., Any]:
        found = self.__dict__.get("_loader")
        if found is None:
            found = self.__dict__["_loader"] = field_loader(self.inner)
        return found
