"""§9 `EmailPayload`, `Address`, `Attachment` (all SEEN [D4]; closed objects)."""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any

from marshmallow import ValidationError, fields, validate

from producers.schemas.base import ContractSchema, Group
from producers.schemas.fields import Items, Map, Text
from producers.schemas.locales import LOCALE_PATTERN, locale_problem

_EMAIL = validate.Email(error="Not a valid email address.")
_WEB_URL = validate.URL(schemes={"http", "https"}, error="Not a valid URL.")


class EmailAddress(Text):
    """An e-mail address (checked with marshmallow's Email rule)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"format": "email"}, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return _EMAIL(super()._deserialize(value, attr, data, **kwargs))


class Base64(Text):
    """§9 `Attachment.content`: base64 text (SEEN [D4])."""

    def __init__(self, **kwargs: Any) -> None:
        pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
        super().__init__(metadata={"contentEncoding": "base64", "pattern": pattern}, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("Not valid base64.") from None
        return text


class UnsubscribeUrl(Text):
    """§9 `list_unsubscribe`: a URL for the List-Unsubscribe header (https: or mailto:)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"format": "uri"}, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text.startswith("mailto:"):
            _EMAIL(text.removeprefix("mailto:").split("?", 1)[0])
            return text
        return _WEB_URL(text)


class AddressSchema(ContractSchema):
    """§9 `Address`: both fields optional (SEEN [D4])."""

    name = Text()
    email = EmailAddress()


class AttachmentSchema(ContractSchema):
    """§9 `Attachment`: the file name the recipient sees and its base64 content (SEEN [D4])."""

    name = Text(required=True, non_empty=True)
    content = Base64(required=True)


class EmailPayloadSchema(ContractSchema):
    """§9 `EmailPayload`. No `preset` here, unlike v1.3 (§9)."""

    # §9 / I13: the template is used *instead of* an inline body (INFERRED: exactly one)
    groups = (Group(("body", "email_template")),)

    subject = Map(  # §9: keys are locales (SEEN); the §7 key rule applies (INFERRED)
        Text(),
        key_problem=locale_problem,
        metadata={"propertyNames": {"pattern": LOCALE_PATTERN}},
    )
    body = Text()
    email_template = Text(non_empty=True)
    # v1.3's limits (2 files, 1 MB each) are NOT FOUND for v2: a warning, not an error
    attachments = Items(fields.Nested(AttachmentSchema))
    list_unsubscribe = UnsubscribeUrl()
    from_ = fields.Nested(AddressSchema, data_key="from")
    reply_to = fields.Nested(AddressSchema)
