"""§7 `LocalizedContent` / `Content` and the §8 per-platform content objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import fields

from producers.schemas.base import ContractSchema, OpenSchema
from producers.schemas.enums import DeliveryPriority, LiveUpdateOperation, Priority, names
from producers.schemas.fields import Bool, EnumName, Int, Items, Map, Num, Text
from producers.schemas.jsonvalues import JsonObject
from producers.schemas.locales import LOCALE_PATTERN, locale_problem
from producers.schemas.options import current


class ProgressSegmentSchema(ContractSchema):
    """§8.1 `live_update.segments[]` (SEEN-SDK [S1]): `{"color": "#RRGGBB", "length": int}`."""

    color = Text(
        required=True,
        pattern="^#[0-9A-Fa-f]{6}$",
        pattern_error='Not a colour such as "#336699".',
    )
    length = Int(required=True, minimum=0)  # a negative length is meaningless (INFERRED)


class LiveUpdateSchema(ContractSchema):
    """§8.1 `android.live_update` (SEEN-SDK [S1]); its table is taken as complete: closed."""

    op = EnumName(names(LiveUpdateOperation), required=True)
    id = Text(required=True, non_empty=True)
    progress = Num(minimum=0)
    progress_indeterminate = Bool()
    progress_bar = Bool()
    segments = Items(fields.Nested(ProgressSegmentSchema))
    extras = JsonObject()
    when = Int(minimum=0, int64=True)  # epoch ms; an int64 may be quoted (§1.1)
    chronometer = Bool()
    chronometer_count_down = Bool()
    show_when = Bool()


class PlatformContentSchema(OpenSchema):
    """§8: one platform's content. `title` / `body` SEEN [D3]; the rest SEEN-3P [C1].

    The per-platform field tables are NOT FOUND (§8.2), so the object is open: other keys
    are sent unchecked, typos of the fields below are refused, strict mode refuses them.
    """

    title = Text()
    subtitle = Text()
    body = Text()
    icon = Text()
    image = Text()
    attachment = Text()
    banner = Text()
    sound = Text()
    sound_enabled = Bool()
    badges = Text()  # §8.2: a string such as "3" (SEEN-3P [C1] formats the int as a string)
    priority = EnumName(names(Priority))
    delivery_priority = EnumName(names(DeliveryPriority))


class AndroidContentSchema(PlatformContentSchema):
    """§8.1 `android`: the common fields plus Live Update and root params (SEEN-SDK [S1])."""

    live_update = fields.Nested(LiveUpdateSchema)
    root_params = JsonObject()  # [S1] carries e.g. pw_actions as a JSON-encoded string


class ContentSchema(OpenSchema):
    """§7 one locale's `Content`: platform blocks, SEEN [D3].

    Blocks for Windows, SMS, Telegram, Kakao, LINE, WhatsApp exist but their keys are
    NOT FOUND (§7): other keys pass as unchecked JSON objects; strict mode refuses them.
    """

    extra_noun: ClassVar[str] = "platform block"

    ios = fields.Nested(PlatformContentSchema)
    android = fields.Nested(AndroidContentSchema)
    huawei_android = fields.Nested(PlatformContentSchema)
    baidu_android = fields.Nested(PlatformContentSchema)
    mac_os = fields.Nested(PlatformContentSchema)
    amazon = fields.Nested(PlatformContentSchema)
    safari = fields.Nested(PlatformContentSchema)
    chrome = fields.Nested(PlatformContentSchema)
    firefox = fields.Nested(PlatformContentSchema)
    ie = fields.Nested(PlatformContentSchema)

    def extra_key_problem(self, key: Any, value: Any) -> Any:
        problem = super().extra_key_problem(key, value)
        if problem is None and not current().strict and not isinstance(value, Mapping):
            return ["Not a valid object."]
        return problem


class LocalizedContentSchema(ContractSchema):
    """§6 `payload.content`: `{"localized_content": {locale: Content}}` (SEEN [D3]); closed."""

    localized_content = Map(
        fields.Nested(ContentSchema),
        key_problem=locale_problem,  # §7 locale keys (SEEN)
        non_empty=True,  # §7: at least "default" or one locale (INFERRED: nothing to send)
        required=True,
        metadata={"propertyNames": {"pattern": LOCALE_PATTERN}},
    )
