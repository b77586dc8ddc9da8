"""Prometheus exposition of the Redis-kept counters (`notify-relay metrics --port 9808`).

The values are fleet-wide (every worker adds to the same Redis hash, see metrics.py), so
run one exporter (or several behind one scrape job and use `max`, not `sum`): every
exporter reports the same totals. Counters are read at scrape time; a scrape that cannot
reach Redis answers `notify_relay_up 0` instead of failing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from producers.connection import redis_client
from producers.settings import Settings
from worker.store import Stores, stats
from worker.store.metrics import LATENCY_BUCKETS_S

log = logging.getLogger("notify_relay.exporter")

#: A scrape waits this long for Redis before it answers `notify_relay_up 0`.
REDIS_TIMEOUT_S = 5

#: counter family in Redis → (metric name without `_total`, help, label name or None)
COUNTERS: dict[str, tuple[str, str, str | None]] = {
    "attempts": ("notify_relay_send_attempts", "Sends to the notify endpoint, by outcome "
                 "class (success, permanent, systemic, throttled, transient, ambiguous).",
                 "outcome"),
    "succeeded": ("notify_relay_sent", "Jobs delivered (a 2xx answer).", None),
    "retries": ("notify_relay_retries", "Retries scheduled, by the class of the failed send.",
                "outcome"),
    "dead": ("notify_relay_dead_letters", "Jobs dead-lettered, by reason.", "reason"),
    "deferred": ("notify_relay_deferred", "Jobs given back to wait without a send "
                 "(circuit open, slot too far off).", "why"),
    "skipped": ("notify_relay_skipped", "Deliveries skipped: already final, or a stale copy.",
                "verdict"),
    "abandoned": ("notify_relay_abandoned", "Sends whose worker died mid-send (ambiguous).",
                  None),
    "messages": ("notify_relay_messages", "Deliver messages taken by workers.", None),
    "message_jobs": ("notify_relay_message_jobs", "Jobs those messages carried.", None),
    "message_states": ("notify_relay_message_states", "Deliver messages by how they ended, "
                       "as Flower counts them (succeeded, failed: a job died, retried: some "
                       "wait again, rejected: given back).", "state"),
    "late": ("notify_relay_late_results", "Results of workers whose claim had run out "
             "(logged as late, nothing else changed).", None),
    "circuit_opened": ("notify_relay_circuit_episodes", "Times 401/403 stopped all sends.",
                       None),
    "webhooks": ("notify_relay_webhook_deliveries", "Webhook tries by result (delivered, "
                 "retrying, exhausted, gone: a 410; stopped: not sent, the URL is gone).",
                 "result"),
    "unknown_identifiers": ("notify_relay_unknown_identifiers", "Identifiers the endpoint "
                            "reported it did not know.", None),
    # notify_relay/api/access.py: one per answer of the HTTP API, every process on every host
    "api_requests": ("notify_relay_api_requests", "HTTP API answers, by status code.",
                     "status"),
}


class RedisCollector:
    """A prometheus_client collector reading the fleet's counters and state from Redis."""

    def __init__(self, settings: Settings) -> None:
        client = redis_client(settings, socket_timeout=REDIS_TIMEOUT_S,
                                      socket_connect_timeout=REDIS_TIMEOUT_S)
        self._stores = Stores.build(settings, client)

    def describe(self) -> list[Metric]:
        return []  # no Redis read at registration time

    def collect(self) -> Iterator[Metric]:
        try:
            snapshot = stats.collect(self._stores, time.time(), dead_by_reason=False)
        except redis.RedisError as exc:
            log.warning("scrape failed: redis error: %s", exc)
            yield GaugeMetricFamily("notify_relay_up", "1 when Redis could be read.", value=0)
            return
        yield GaugeMetricFamily("notify_relay_up", "1 when Redis could be read.", value=1)
        yield from counter_families(snapshot["totals"])
        yield latency_histogram(snapshot["totals"])
        yield from gauge_families(snapshot)


def counter_families(totals: dict[str, float]) -> Iterator[Metric]:
    for family, (name, help_text, label) in COUNTERS.items():
        metric = CounterMetricFamily(name, help_text, labels=[label] if label else None)
        for field, value in sorted(totals.items()):
            base, _, label_value = field.partition(":")
            if base != family:
                continue
            metric.add_metric([label_value] if label else [], value)
        yield metric


def latency_histogram(totals: dict[str, float]) -> Metric:
    """Cumulative buckets from the per-bucket counts kept in Redis."""
    running, buckets = 0.0, []
    for bound in (*(f"{b:g}" for b in LATENCY_BUCKETS_S), "+Inf"):
        running += totals.get(f"latency:{bound}", 0.0)
        buckets.append((bound, running))
    metric = HistogramMetricFamily("notify_relay_send_duration_seconds",
                                   "Time from sending a request to its answer (or error).")
    metric.add_metric([], buckets, sum_value=totals.get("latency_sum", 0.0))
    return metric


def gauge_families(snapshot: dict[str, Any]) -> Iterator[Metric]:
    waiting = GaugeMetricFamily("notify_relay_jobs_waiting", "Jobs waiting for the budget.",
                                labels=["priority"])
    oldest = GaugeMetricFamily("notify_relay_oldest_waiting_seconds",
                               "Age of the oldest job waiting.", labels=["priority"])
    for priority, row in snapshot["waiting"]["by_priority"].items():
        waiting.add_metric([priority], row["jobs"])
        oldest.add_metric([priority], row["oldest_age_s"] or 0.0)
    yield waiting
    yield oldest
    apps = GaugeMetricFamily("notify_relay_application_jobs_waiting", "Jobs waiting, for "
                             "the applications with the most.", labels=["application",
                                                                        "priority"])
    for row in snapshot["waiting"]["top_applications"]:
        apps.add_metric([row["application"], row["priority"]], row["waiting"])
    yield apps
    share = GaugeMetricFamily("notify_relay_application_sends_last_minute", "Slots each "
                              "application got in the last minute.", labels=["application"])
    for application, count in snapshot["share_last_minute"].items():
        share.add_metric([application], count)
    yield share
    queue = GaugeMetricFamily("notify_relay_queue_depth", "Jobs handed out to workers and "
                              "not recorded yet.", labels=["queue"])
    queue.add_metric([snapshot["queue"]["name"]], snapshot["queue"]["depth"])
    yield queue
    yield GaugeMetricFamily("notify_relay_retries_parked", "Jobs parked for a later retry.",
                            value=snapshot["retries"]["parked"])
    yield GaugeMetricFamily("notify_relay_dead_letters_stored", "Entries in the dead-letter "
                            "store now.", value=snapshot["dead_letters"]["total"])
    yield GaugeMetricFamily("notify_relay_circuit_open", "1 while 401/403 stops all sends.",
                            value=int(snapshot["circuit"]["state"] == "open"))
    yield GaugeMetricFamily("notify_relay_workers_live", "Workers whose heartbeat is fresh.",
                            value=len(snapshot["workers"]))
    yield from webhook_gauges(snapshot["webhooks"])


def webhook_gauges(hooks: dict[str, Any]) -> Iterator[Metric]:
    yield GaugeMetricFamily("notify_relay_webhook_backlog", "Webhooks waiting to be "
                            "delivered (or being delivered).", value=hooks["backlog"])
    yield GaugeMetricFamily("notify_relay_webhook_oldest_due_seconds", "How long the "
                            "longest-overdue webhook has been due.",
                            value=hooks["oldest_due_s"] or 0.0)
    dead = GaugeMetricFamily("notify_relay_webhook_dead_letters_stored", "Webhook dead "
                             "letters stored now, by reason.", labels=["reason"])
    for reason, count in hooks["dead_letters"]["by_reason"].items():
        dead.add_metric([reason], count)
    yield dead
    yield GaugeMetricFamily("notify_relay_webhook_url_gone", "1 while NOTIFY_WEBHOOK_URL is "
                            "stopped by a 410 Gone.", value=int(hooks["url_gone"]))


def registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(settings))  # type: ignore[arg-type]
    return registry


def serve(settings: Settings, host: str, port: int) -> Any:
    """Start the HTTP endpoint in a daemon thread; returns (server, thread)."""
    return start_http_server(port, addr=host, registry=registry(settings))
