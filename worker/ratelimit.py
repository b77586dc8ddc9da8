"""The shared rate limiter (placeholder until issue #5: always lets the send go)."""

from __future__ import annotations


class RateLimiter:
    def acquire(self, application: str, now: float) -> float:
        """Seconds to wait before this send may go (0.0: go now, a token was taken)."""
        return 0.0

    def on_throttled(self, application: str, retry_after_s: float | None, now: float) -> None:
        """The endpoint answered 429: slow down for everyone."""

    def on_success(self, application: str, now: float) -> None:
        """A send succeeded: the effective rate may climb back."""
