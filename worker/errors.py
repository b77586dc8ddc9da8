"""The one exception tree of the worker, and the failure classes.

    NotifyRelayError
    ├── SendFailed                 the endpoint or the network said no; carries the verdict
    │   ├── RetryableFailure       transient, throttled, ambiguous: try again later
    │   ├── PermanentFailure       the request itself is wrong: dead-letter at once
    │   └── SystemicFailure        401/403: stop sending for everyone (circuit open)
    └── ConfigurationError         the worker cannot start (bad or missing settings)

Delivery code works with `Verdict` values (classify.py); the exceptions exist for
callers that prefer to raise, and for Sentry grouping.
"""

from __future__ import annotations

import enum


class FailureClass(enum.StrEnum):
    SUCCESS = "success"
    PERMANENT = "permanent"
    SYSTEMIC = "systemic"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    AMBIGUOUS = "ambiguous"


RETRYABLE = frozenset({FailureClass.THROTTLED, FailureClass.TRANSIENT, FailureClass.AMBIGUOUS})


class NotifyRelayError(Exception):
    """Base of every error notify-relay raises on purpose."""


class ConfigurationError(NotifyRelayError):
    pass


class SendFailed(NotifyRelayError):
    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        grpc_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.grpc_code = grpc_code
        self.retry_after_s = retry_after_s


class RetryableFailure(SendFailed):
    pass


class PermanentFailure(SendFailed):
    pass


class SystemicFailure(SendFailed):
    pass
