"""Sentry: one event for what a person must act on, and nothing they must not see.

Events (all sent from `worker/events.py` through `Alerts`):

* a dead letter: one event per job, grouped into one issue per (reason, application,
  HTTP status) by fingerprint, tagged `job_id`, `application`, `reason`, `kind`;
* a systemic failure (401/403): one event per circuit episode, not one per job;
* the webhook receiver answering 410 Gone: one event when it stops webhooks to that URL;
* an error logged by anything else (a bug in a task, the broker gone): Sentry's logging
  integration at ERROR, as usual.

A transient failure that a retry fixes is logged and counted, never sent.

Privacy: `send_default_pii` off, local variables off (a send frame's headers hold
the Authorization header), no auto-enabled integrations (the Redis one would add every
command as a breadcrumb), and `Scrubber` as `before_send` / `before_breadcrumb`: the API
token and the webhook secret (also as `repr` / `%r` would escape them), e-mail addresses
and URL passwords are masked in every string, and the request's target and content
fields (users, hwids, push_tokens, payload, …) in every mapping.

Nothing goes out with the POSTs to Pushwoosh (L2): the default StdlibIntegration patches
http.client to add `sentry-trace` and `baggage` (with the DSN's public key) to every
request, so the default integrations are listed without it, and no URL is a trace
propagation target.

`init` runs in the worker at start (Celery `worker_init`, and `worker_process_init` for a
prefork child, whose inherited SDK lost its sending thread in the fork), never at import.
"""

from __future__ import annotations

import json
import logging
import os
import re
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, cast

from producers.job import Job
from producers.settings import Settings

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

FILTERED = "[Filtered]"

#: Mapping keys whose values never leave the worker: the request's targets and content,
#: the job itself, Celery's task arguments, frame locals, credentials.
SENSITIVE_KEYS = frozenset({
    "authorization", "token", "api_token", "password", "cookie", "vars",
    "users", "hwids", "push_tokens", "emails", "email", "devices", "list",
    "payload", "content", "localized_content", "custom_data", "title", "body", "subject",
    "request", "job", "args", "kwargs",
})
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)
#: Lines of this logger are alerts that `Alerts` already sent with tags: keep them as
#: breadcrumbs, drop the duplicate event the logging integration would make of them.
DELIVERY_LOGGER = "notify_relay.delivery"


class Scrubber:
    """`before_send` / `before_breadcrumb` that mask the token and personal data."""

    def __init__(self, token: str, *secrets: str) -> None:
        forms = {form for secret in (token, *secrets) for form in token_forms(secret)}
        self._token_forms = tuple(sorted(forms, key=len, reverse=True))

    def before_send(self, event: Event, hint: Hint) -> Event | None:
        if event.get("logger") == DELIVERY_LOGGER:
            return None
        return cast("Event", self.scrub(event))

    def before_breadcrumb(self, crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
        return cast("Breadcrumb", self.scrub(crumb))

    def scrub(self, value: Any, key: str = "") -> Any:
        if key.lower() in SENSITIVE_KEYS and value not in (None, "", [], {}):
            return FILTERED
        if isinstance(value, dict):
            return {k: self.scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        if isinstance(value, str):
            return self.scrub_text(value)
        return value

    def scrub_text(self, text: str) -> str:
        for form in self._token_forms:
            if form in text:
                text = text.replace(form, FILTERED)
        text = _URL_PASSWORD.sub(r"\1***@", text)
        return _EMAIL.sub("[email]", text)


def token_forms(token: str) -> tuple[str, ...]:
    """The token as text may carry it, longest first (M1).

    An http.client error quotes the header as bytes (`b'Token abc\\nSECRET'`), a
    traceback or `%r` quotes it as a str: escaped, the raw token is no longer a substring.
    So: the token, its repr / ascii / JSON escapes and its bytes repr, each also escaped
    once more (the repr of an exception that quotes it).
    """
    if not token:
        return ()
    once = {token, _inner(repr(token)), _inner(ascii(token)), _inner(json.dumps(token)),
            _inner(repr(token.encode("utf-8", "backslashreplace")), 2),
            _inner(repr(token.encode("latin-1", "backslashreplace")), 2)}
    twice = {_inner(repr(form)) for form in once}
    return tuple(sorted(once | twice, key=len, reverse=True))


def _inner(quoted: str, prefix: int = 1) -> str:
    """A repr without its quotes (and its b prefix)."""
    return quoted[prefix:-1]


def release(settings: Settings) -> str:
    if settings.sentry_release:
        return settings.sentry_release
    try:
        return f"notify-relay@{version('notify-relay')}"
    except PackageNotFoundError:
        return "notify-relay@unknown"


_initialized_pid: int | None = None


def init(settings: Settings) -> bool:
    """Start the SDK in this process when SENTRY_DSN is set; True if it is on."""
    global _initialized_pid
    if not settings.sentry_dsn:
        return False
    if _initialized_pid == os.getpid():
        return True
    import sentry_sdk

    scrubber = Scrubber(settings.api_token, settings.webhook_secret)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=release(settings),
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        auto_enabling_integrations=False,
        # L2: the defaults minus StdlibIntegration, and no trace headers on any URL.
        default_integrations=False,
        integrations=integrations(),
        trace_propagation_targets=[],
        before_send=scrubber.before_send,
        before_breadcrumb=scrubber.before_breadcrumb,
        shutdown_timeout=3,
    )
    _initialized_pid = os.getpid()
    return True


def integrations() -> list[Any]:
    """Sentry's default integrations except StdlibIntegration (L2), plus Celery's.

    Listed by hand (`default_integrations=False`) rather than `disabled_integrations`,
    which older sentry-sdk 2.x releases do not take.
    """
    from sentry_sdk.integrations.argv import ArgvIntegration
    from sentry_sdk.integrations.atexit import AtexitIntegration
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.dedupe import DedupeIntegration
    from sentry_sdk.integrations.excepthook import ExcepthookIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.modules import ModulesIntegration
    from sentry_sdk.integrations.threading import ThreadingIntegration

    return [
        ArgvIntegration(), AtexitIntegration(), DedupeIntegration(), ExcepthookIntegration(),
        ModulesIntegration(), ThreadingIntegration(),
        CeleryIntegration(propagate_traces=False),
        LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
    ]


def connect(settings: Settings) -> None:
    """Initialize when the worker starts, and again in each forked pool process."""
    from celery import signals

    def start(**_: object) -> None:
        init(settings)

    signals.worker_init.connect(start, weak=False)
    signals.worker_process_init.connect(start, weak=False)


class Alerts:
    """The events notify-relay sends on purpose. No-ops while Sentry is off."""

    def dead_letter(self, job: Job, reason: str, error: str | None, *,
                    attempt: int, http_status: int | None, grpc_code: int | None) -> None:
        self._capture(
            f"notify-relay dead letter: {reason}", level="error", tags=_job_tags(job, reason),
            fingerprint=["dead-letter", reason, job.application, str(http_status or grpc_code)],
            context={"error": (error or "")[:500], "attempt": attempt,
                     "http_status": http_status, "grpc_code": grpc_code},
        )

    def systemic(self, job: Job, *, http_status: int | None, grpc_code: int | None,
                 message: str | None) -> None:
        self._capture(
            f"notify-relay sends stopped: the endpoint refuses the API token "
            f"(HTTP {http_status})", level="fatal", tags=_job_tags(job, "systemic"),
            fingerprint=["systemic", str(http_status or grpc_code)],
            context={"error": (message or "")[:500], "http_status": http_status,
                     "grpc_code": grpc_code},
        )

    def webhook_gone(self, url: str) -> None:
        """The webhook receiver answered 410: no more webhooks go to it (`url`: as shown,
        without path or query)."""
        self._capture(
            "notify-relay webhooks stopped: the receiver answered 410 Gone", level="error",
            tags={"reason": "webhook_gone"}, fingerprint=["webhook-gone", url],
            context={"url": url, "todo": "notify-relay webhooks resume, then replay"},
        )

    def _capture(self, message: str, *, level: str, tags: dict[str, str],
                 fingerprint: list[str], context: dict[str, Any]) -> None:
        import sentry_sdk

        if not sentry_sdk.get_client().is_active():
            return
        with sentry_sdk.new_scope() as scope:
            for name, value in tags.items():
                scope.set_tag(name, value)
            scope.set_context("notify", context)
            scope.fingerprint = fingerprint
            scope.capture_message(message, level=level)  # type: ignore[arg-type]


def _job_tags(job: Job, reason: str) -> dict[str, str]:
    return {"job_id": job.job_id, "application": job.application, "reason": reason,
            "kind": job.kind}
