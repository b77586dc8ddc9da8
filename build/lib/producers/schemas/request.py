"""§2-§4 `NotifyRequest` and its two kinds, `NotifySegment` and `NotifyTransactional`."""

from __future__ import annotations

from marshmallow import fields

from producers.schemas.base import ContractSchema, Group, OpenSchema
from producers.schemas.email import EmailPayloadSchema
from producers.schemas.enums import PLATFORMS_CONFIRMED, PLATFORMS_INFERRED, MessageType, names
from producers.schemas.fields import ApplicationCode, Bool, EnumName, Items, Map, Text
from producers.schemas.jsonvalues import JsonObject, Opaque
from producers.schemas.payload import PayloadSchema
from producers.schemas.schedule import ScheduleSchema
from producers.schemas.targets import TargetList

#: §3 / §4: the payload kind picks the channel; SEEN exclusive, one needed (INFERRED).
PAYLOAD_GROUP = Group(("payload", "email_payload"))


class MessageFields(ContractSchema):
    """Fields both kinds share (§3 SEEN for segment; §4 SEEN-3P for transactional)."""

    application = ApplicationCode(required=True)  # every example sets it (INFERRED)
    platforms = Items(  # §3: array of Platform names; every example sets one (INFERRED)
        EnumName(
            tuple(p.value for p in PLATFORMS_CONFIRMED),
            inferred=tuple(p.value for p in PLATFORMS_INFERRED),
        ),
        required=True,
        min_items=1,
    )
    payload = fields.Nested(PayloadSchema)
    email_payload = fields.Nested(EmailPayloadSchema)
    schedule = fields.Nested(ScheduleSchema, required=True)  # §3 SEEN required
    message_type = EnumName(names(MessageType))  # §3: absent means MARKETING; never filled in
    campaign = Text(non_empty=True)
    frequency_capping = Opaque("FrequencyCapping")  # §10.2: fields NOT FOUND
    send_rate = Opaque("SendRate")  # §10.2: fields NOT FOUND
    dynamic_content_placeholders = Map(Text())  # §3: map<string, string>, string values only
    meta_data = JsonObject()  # §3: free-form JSON object (INFERRED google.protobuf.Struct)


class SegmentSchema(MessageFields):
    """§3 `NotifySegment`: the whole field table is SEEN [D2], so it is closed."""

    groups = (
        # §3: code excludes expression and filter_expression (SEEN); one of them picks
        # the audience (INFERRED).
        Group(("code", "expression", "filter_expression")),
        PAYLOAD_GROUP,
    )

    code = Text(non_empty=True)
    expression = Text(non_empty=True)  # §10.1 seglang: only "non-empty" can be checked
    filter_expression = Opaque("FilterExpression")  # §10.1: fields NOT FOUND


class TransactionalSchema(OpenSchema, MessageFields):
    """§4 `NotifyTransactional`: its field table is NOT FOUND; the fields below are SEEN-3P.

    Open: other keys (e.g. the test-device target, NOT FOUND) pass unchecked unless
    strict. Whether this kind has the segment-only fields is NOT FOUND: strict refuses them.
    """

    groups = (
        # §4: at least one id list; combinations allowed (NOT FOUND, none of C1-C3 combines)
        Group(("hwids", "users", "push_tokens"), exclusive=False),
        PAYLOAD_GROUP,
    )
    unconfirmed = frozenset(
        {"campaign", "frequency_capping", "send_rate", "dynamic_content_placeholders", "meta_data"}
    )

    hwids = TargetList()  # SEEN-3P [C1][C2]
    users = TargetList()  # SEEN-3P [C1][C2][C3]
    push_tokens = TargetList()  # SEEN-3P [C1][C2]
    return_unknown_identifiers = Bool()  # SEEN-3P [C1][C2][C3]
    use_latest_user_device = Bool()  # SEEN-3P [C1][C2]


class NotifyRequestSchema(ContractSchema):
    """§2 `NotifyRequest`: a oneof of the two kinds (SEEN [D1][D2]); closed."""

    groups = (Group(("segment", "transactional")),)

    segment = fields.Nested(SegmentSchema)
    transactional = fields.Nested(TransactionalSchema)
