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
| `fields`, `base`, `loader` | JSON-typed fields; closed / open objects, oneof groups |
| `settings`, `typos` | strict mode and the list cap; "did you mean" hints |
| `advice` | warnings: advice of the reference that is not a rule (§7 blocks vs platforms, ...) |
"""

from producers.schemas.enums import (
    DeliveryPriority,
    LiveUpdateOperation,
    MessageType,
    Platform,
    Priority,
)
from producers.schemas.request import NotifyRequestSchema, SegmentSchema, TransactionalSchema
from producers.schemas.settings import DEFAULT_MAX_TARGETS, ContractSettings

__all__ = [
    "DEFAULT_MAX_TARGETS",
    "ContractSettings",
    "DeliveryPriority",
    "LiveUpdateOperation",
    "MessageType",
    "NotifyRequestSchema",
    "Platform",
    "Priority",
    "SegmentSchema",
    "TransactionalSchema",
]
