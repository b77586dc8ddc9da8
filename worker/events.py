"""What a delivery reports as it goes: log lines now; metrics and Sentry hook in here.

`delivery.py` calls these and nothing else for observability, so logs, metrics
and alerts stay in one place and the delivery logic stays readable.
"""

from __future__ import annotations

import logging

from producers.job import Job
from producers.outcomes import Attempt
from worker.classify import Verdict

log = logging.getLogger("notify_relay.delivery")


class Events:
    def attempt(self, job: Job, attempt: Attempt, verdict: Verdict) -> None:
        """One send finished (whatever its class)."""
        log.info("attempt job=%s attempt=%d class=%s http=%s duration_ms=%.1f", job.job_id,
                 attempt.number, verdict.cls.value, verdict.http_status, attempt.duration_ms)

    def succeeded(self, job: Job, attempt: Attempt) -> None:
        log.info("state job=%s status=succeeded attempt=%d message_code=%s", job.job_id,
                 attempt.number, attempt.message_code)

    def retrying(self, job: Job, attempt: Attempt, delay_s: float) -> None:
        log.info("state job=%s status=retrying attempt=%d retry_in_s=%.2f", job.job_id,
                 attempt.number, delay_s)

    def dead(self, job: Job, attempt: Attempt | None, reason: str, error: str | None) -> None:
        log.warning("state job=%s status=dead reason=%s attempt=%s error=%s", job.job_id,
                    reason, attempt.number if attempt else job.attempt, error)

    def deferred(self, job: Job, delay_s: float, why: str) -> None:
        log.info("defer job=%s for %.2fs: %s", job.job_id, delay_s, why)

    def skipped(self, job: Job, verdict: str, detail: str) -> None:
        log.info("skip job=%s attempt=%d: %s %s", job.job_id, job.attempt, verdict, detail)

    def abandoned(self, job: Job) -> None:
        log.warning("job=%s attempt=%d: the previous holder died mid-send (ambiguous)",
                    job.job_id, job.attempt + 1)

    def circuit_opened(self, job: Job, verdict: Verdict, first: bool) -> None:
        """A 401/403. `first` is True once per episode: alert on that one only."""
        if first:
            log.error("circuit open: the endpoint refuses our token (HTTP %s): %s",
                      verdict.http_status, verdict.message)

    def circuit_closed(self) -> None:
        log.warning("circuit closed: sends resumed")

    def limiter_wait(self, job: Job, wait_s: float) -> None:
        """The shared rate limit made this send wait `wait_s` seconds."""
