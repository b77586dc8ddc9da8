"""The failure classes a send can end in.

Delivery does not raise for a failed send: `classify` (classify.py) turns every response
or transport error into a `Verdict` carrying one of these classes, the HTTP status, the
gRPC code and `retry_after_s`, and `delivery.py` branches on it. The split follows httpx:
"no usable response" (transient or ambiguous) apart from "the server said no"
(permanent, systemic, throttled). Configuration problems are `producers.SettingsError`.
"""

from __future__ import annotations

import enum


class FailureClass(enum.StrEnum):
    SUCCESS = "success"
    PERMANENT = "permanent"  # the request itself is wrong: dead-letter at once
    SYSTEMIC = "systemic"  # 401/403: stop sending for everyone (circuit open)
    THROTTLED = "throttled"  # 429: wait at least Retry-After, slow the shared rate
    TRANSIENT = "transient"  # 5xx, connect errors: retry with backoff
    AMBIGUOUS = "ambiguous"  # read timeout, reset after sending: may have been sent
