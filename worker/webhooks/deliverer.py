"""The webhook deliverer: a loop of its own in every worker process that has a URL.

It never shares what notification sends use: its own threads (NOTIFY_WEBHOOK_CONCURRENCY),
its own HTTP pool and deadline (NOTIFY_WEBHOOK_TIMEOUT), its own Redis connections, and
no part of the send budget. A receiver that hangs holds only these threads; one that is
down only makes events wait along their ladder.

One pass (`poll`): take as many due events as there are free threads (the claim leases
them: lua/hooks_claim.lua), POST each signed, decide (ladder.py) and record the result
(one fenced script). When the URL had answered 410, due events go to the dead letters as
`gone` without a POST. A deliverer that dies mid-POST leaves its events to come back
when their lease ends: delivery is at-least-once, always under the event's one id.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

from producers.connection import redis_client
from producers.settings import Settings
from worker.classify import SendResult, parse_retry_after
from worker.http import PostClient
from worker.store import Stores
from worker.store.webhooks import HookDead, HookStep, Pending, WebhookStore
from worker.webhooks.ladder import After, after_try
from worker.webhooks.report import WebhookReport
from worker.webhooks.signing import Signer

log = logging.getLogger("notify_relay.webhooks")

#: An idle deliverer looks for due events this often.
POLL_S = 0.2
#: After a Redis error it waits this long before it looks again.
ERROR_PAUSE_S = 1.0
#: A claim holds an event for the POST's budget plus this (recording, a slow Redis):
#: past it, the event is due again for any deliverer.
LEASE_MARGIN_S = 30.0
#: A connect takes at most this much of NOTIFY_WEBHOOK_TIMEOUT.
CONNECT_TIMEOUT_S = 5.0
_ERROR_CHARS = 200
REDIS_TIMEOUT_S = 5.0


class Deliverer:
    def __init__(self, settings: Settings, store: WebhookStore, client: PostClient,
                 signer: Signer, report: WebhookReport, rng: random.Random | None = None):
        self._settings = settings
        self._store = store
        self._client = client
        self._signer = signer
        self._report = report
        self._rng = rng or random.Random()
        self._ladder = settings.webhook_ladder_s
        self._lease_s = settings.webhook_timeout_s + LEASE_MARGIN_S
        size = settings.webhook_concurrency
        self._free = threading.BoundedSemaphore(size)
        self._size = size
        self._pool = ThreadPoolExecutor(size, thread_name_prefix="notify-webhook")

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; then the POSTs in flight finish."""
        while not stop.is_set():
            try:
                taken = self.poll()
            except redis.RedisError as exc:
                log.warning("webhooks: redis unavailable (%s); will try again", exc)
                stop.wait(ERROR_PAUSE_S)
                continue
            if not taken:
                stop.wait(POLL_S)
        self._pool.shutdown(wait=True)

    def poll(self) -> int:
        """One pass: claim what the free threads can take and start it; how many."""
        free = self._take_free()
        if not free:
            return 0
        try:
            claimed = self._store.claim(free, self._lease_s, self._settings.webhook_url)
        except BaseException:
            self._give_back(free)
            raise
        self._give_back(free - len(claimed.events))
        clock = _Clock(claimed.token / 1000 - self._lease_s)
        for event in claimed.events:
            if claimed.gone:
                self._pool.submit(self._stop_gone, event, claimed.token, clock)
            else:
                self._pool.submit(self._deliver, event, claimed.token, clock)
        return len(claimed.events)

    def _take_free(self) -> int:
        taken = 0
        while taken < self._size and self._free.acquire(blocking=False):
            taken += 1
        return taken

    def _give_back(self, count: int) -> None:
        for _ in range(count):
            self._free.release()

    def _deliver(self, event: Pending, token: int, clock: _Clock) -> None:
        try:
            tries = int(event.state.get("tries") or 0) + 1
            headers = self._signer.headers(event.id, event.body, clock.now())
            result = self._client.send(event.body.encode(), headers)
            status = result.status if result.error is None else None
            retry_after = parse_retry_after((result.headers or {}).get("retry-after"))
            after = after_try(status, tries, self._ladder, self._rng, retry_after)
            self._record(event, token, after, tries, result, clock)
        except redis.RedisError as exc:  # the lease runs out; the event comes back then
            log.warning("webhooks: redis unavailable recording %s (%s)", event.id, exc)
        except Exception:
            log.exception("webhooks: delivering %s failed", event.id)
        finally:
            self._free.release()

    def _record(self, event: Pending, token: int, after: After, tries: int,
                result: SendResult, clock: _Clock) -> None:
        now = clock.now()
        status = result.status if result.error is None else None
        error = self._error_text(result)
        state = {"tries": tries, "last_try_at": round(now, 3), "last_status": status,
                 "last_error": error}
        if after.step is HookStep.DONE:
            if self._store.done(event, token):
                self._report.delivered(event, tries, status, result.duration_ms)
        elif after.step is HookStep.RETRY:
            if self._store.retry(event, token, now + after.due_in_s, event.entry(**state)):
                self._report.retrying(event, tries, status, error, after.due_in_s)
        else:
            reason = after.reason or HookDead.EXHAUSTED
            gone_url = self._settings.webhook_url if reason is HookDead.GONE else None
            applied, newly_gone = self._store.bury(event, token, reason, now, gone_url, **state)
            if applied:
                self._report.dead(event, tries, reason, status, error)
            if newly_gone:
                self._report.url_gone()

    def _stop_gone(self, event: Pending, token: int, clock: _Clock) -> None:
        try:
            if self._store.bury(event, token, HookDead.GONE, clock.now())[0]:
                self._report.stopped_by_gone(event)
        except redis.RedisError as exc:
            log.warning("webhooks: redis unavailable recording %s (%s)", event.id, exc)
        finally:
            self._free.release()

    def _error_text(self, result: SendResult) -> str | None:
        """What a dead letter and a log line keep of a failed try: the HTTP status, or the
        error without the URL's path and query (where a receiver's own token may be)."""
        if result.error is None:
            ok = result.status is not None and 200 <= result.status < 300
            return None if ok else f"HTTP {result.status}"
        text = f"{type(result.error).__name__}: {result.error}"
        secret_part = urlsplit(self._settings.webhook_url)._replace(scheme="", netloc="")
        if secret_part.geturl() not in ("", "/"):
            text = text.replace(secret_part.geturl(), "/…")
        return text[:_ERROR_CHARS]


class _Clock:
    """Redis's time, from the claim's answer and this host's monotonic clock."""

    def __init__(self, redis_now: float) -> None:
        self._base = redis_now - time.monotonic()

    def now(self) -> float:
        return self._base + time.monotonic()


@dataclass
class Running:
    """A started deliverer: its thread, and what `stop` closes."""

    thread: threading.Thread
    stop_event: threading.Event
    client: PostClient
    stores: Stores

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout=timeout_s)
        self.client.close()
        self.stores.metrics.flush()
        self.stores.redis.close()


def start(settings: Settings, metrics_flush_s: float = 0.5) -> Running:
    """A deliverer on its own Redis client, HTTP pool and threads, polling in a thread."""
    client = redis_client(settings, socket_timeout=REDIS_TIMEOUT_S,
                          socket_connect_timeout=REDIS_TIMEOUT_S,
                          max_connections=settings.webhook_concurrency + 4)
    stores = Stores.build(settings, client, metrics_flush_s=metrics_flush_s)
    timeout = settings.webhook_timeout_s
    http = PostClient(settings.webhook_url, {}, connect_timeout_s=min(CONNECT_TIMEOUT_S, timeout),
                      read_timeout_s=timeout, pool_size=settings.webhook_concurrency,
                      deadline_s=timeout, reaper_name="webhook-deadline")
    deliverer = Deliverer(settings, stores.webhooks, http, Signer(settings.webhook_secret),
                          WebhookReport(settings.webhook_url, stores.metrics))
    stop = threading.Event()
    thread = threading.Thread(target=deliverer.run, args=(stop,), name="notify-relay-webhooks",
                              daemon=True)
    thread.start()
    return Running(thread, stop, http, stores)
