"""What webhook delivery reports: one log line, one counter and, for a 410, one alert.

Log lines (logger `notify_relay.webhooks`; never the body, the secret or the URL's path):

    webhook id=msg_… type=notification.succeeded job=… try=1 status=delivered http_status=204
    webhook id=msg_… type=… job=… try=2 status=retrying http_status=503 retry_in_s=5.3
    webhook id=msg_… type=… job=… try=8 status=dead reason=exhausted error="…"   (WARNING)
    webhooks status=stopped url=https://host/… (digest) why="410 Gone"            (ERROR, once)

Counters (`stats:counters`, family `webhooks`): delivered, retrying, exhausted, gone (a
410 answer), stopped (not sent: the URL had answered 410).
"""

from __future__ import annotations

import logging

from worker.logs import emit
from worker.sentry import Alerts
from worker.store.metrics import Metrics
from worker.store.webhooks import HookDead, Pending, url_shown

log = logging.getLogger("notify_relay.webhooks")

FAMILY = "webhooks"
RESULTS = ("delivered", "retrying", "exhausted", "gone", "stopped")


class WebhookReport:
    def __init__(self, url: str, metrics: Metrics | None = None,
                 alerts: Alerts | None = None) -> None:
        self._url = url_shown(url)
        self._metrics = metrics
        self._alerts = alerts or Alerts()

    def delivered(self, event: Pending, tries: int, status: int | None,
                  duration_ms: float) -> None:
        self._line(logging.INFO, event, tries, status="delivered", http_status=status,
                   duration_ms=duration_ms)
        self._count("delivered")

    def retrying(self, event: Pending, tries: int, status: int | None, error: str | None,
                 wait_s: float) -> None:
        self._line(logging.INFO, event, tries, status="retrying", http_status=status,
                   error=error, retry_in_s=round(wait_s, 3))
        self._count("retrying")

    def dead(self, event: Pending, tries: int, reason: HookDead, status: int | None,
             error: str | None) -> None:
        self._line(logging.WARNING, event, tries, status="dead", reason=reason.value,
                   http_status=status, error=error)
        self._count(reason.value)

    def stopped_by_gone(self, event: Pending) -> None:
        """Not sent: the URL had answered 410 (its dead letter is `gone`, for a replay)."""
        self._line(logging.INFO, event, event.state.get("tries", 0), status="dead",
                   reason=HookDead.GONE.value, why="url_gone")
        self._count("stopped")

    def url_gone(self) -> None:
        """Once, when a 410 first marks the URL: loud, since no event reaches it now."""
        emit(log, logging.ERROR, "webhooks", status="stopped", url=self._url,
             why="the receiver answered 410 Gone; events go to the webhook dead letters "
                 "until `notify-relay webhooks resume` (or another NOTIFY_WEBHOOK_URL)")
        self._alerts.webhook_gone(self._url)

    def _line(self, level: int, event: Pending, tries: int, **fields: object) -> None:
        emit(log, level, "webhook", id=event.id, type=event.state.get("type"),
             job=event.state.get("job_id"), attempt=tries, **fields)

    def _count(self, result: str) -> None:
        if self._metrics:
            self._metrics.count(FAMILY, result)
