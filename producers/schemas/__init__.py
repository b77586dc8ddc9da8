"""The Messaging API v2 notify contract as marshmallow schemas (one module per part).

| module | part of the reference |
|---|---|
| `request` | §2-§4 NotifyRequest, NotifySegment, NotifyTransactional |
| `targets` | §4 `{"list": [...]}` id lists |
| `schedule` | §5 Schedule |
| `payload` | §6 Payload, OpenAction(s) |
| `content` | §7 LocalizedContent / Content, §8 per-platform content, Live Update |
| `email` | §9 EmailPayload, Address, Attachment |
| `enums` | §11 Platform, MessageType and the content enums |
| `locales` | §7 locale keys |
| `fields`, `jsonvalues` | JSON-typed fields; free-form JSON and NOT FOUND structures |
| `base`, `loader` | closed / open objects, oneof groups; the fast loading route |
| `options`, `typos` | strict mode and the id-list cap; "did you mean" hints |
| `advice` | warnings: advice of the reference that is not a rule |

How the tags of the reference are used:

- SEEN rules are enforced. INFERRED rules that a request cannot be sent without
  (one of code / expression, one of payload / email_payload, one of at / after, at
  least one id list, required application / platforms) are enforced too.
- SEEN-3P shapes are accepted in the form the clients agree on (`{"list": [...]}`,
  `schedule.after`, the C1 content fields, `badges` as a string).
- NOT FOUND structures (`frequency_capping`, `send_rate`, `filter_expression`,
  `open_action(s)`) are accepted as JSON objects, inner keys unchecked. Objects whose
  field list is incomplete (platform blocks, per-locale content, schedule,
  transactional) are open: unknown keys pass if they hold JSON and do not look like a
  typo of a known key.
- `strict=True` refuses all of those, plus names and fields that rest on a guess: the
  BAIDU_ANDROID / MAC_OS / AMAZON platform names, `schedule.follow_user_timezone` and
  `past_timezones_behaviour`, and the segment-only fields on a transactional request.
"""

from producers.schemas.enums import (
    DeliveryPriority,
    LiveUpdateOperation,
    MessageType,
    Platform,
    Priority,
)
from producers.schemas.options import DEFAULT_MAX_TARGETS, ContractOptions
from producers.schemas.request import NotifyRequestSchema, SegmentSchema, TransactionalSchema

__all__ = [
    "DEFAULT_MAX_TARGETS",
    "ContractOptions",
    "DeliveryPriority",
    "LiveUpdateOperation",
    "MessageType",
    "NotifyRequestSchema",
    "Platform",
    "Priority",
    "SegmentSchema",
    "TransactionalSchema",
]
