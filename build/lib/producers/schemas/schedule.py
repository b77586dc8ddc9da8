"""§5 `Schedule`: when the message is sent."""

from __future__ import annotations

from producers.schemas.base import Group, OpenSchema
from producers.schemas.fields import Bool, Duration, Text, Timestamp


class ScheduleSchema(OpenSchema):
    """§5 `Schedule`. Only `at` is SEEN; the field table is NOT FOUND (§16.2), so it is open.

    Exactly one of `at` / `after` (INFERRED: C1 never sets both; a schedule needs a time).
    """

    groups = (Group(("at", "after")),)
    # §5: C2's C# properties; the JSON spelling is a guess from its naming policy
    unconfirmed = frozenset({"follow_user_timezone", "past_timezones_behaviour"})

    at = Timestamp()  # SEEN in examples [D1][D4][S1]; RFC 3339 (§1.1)
    after = Duration()  # SEEN-3P [C1][C2]: "3600s", C1 writes "3600.000000s"
    follow_user_timezone = Bool()  # SEEN-3P [C2] only
    past_timezones_behaviour = Text(non_empty=True)  # SEEN-3P [C2] only; values NOT FOUND
