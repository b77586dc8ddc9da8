"""Configuration: one frozen `Settings`, built once from the environment and passed in.

Every variable is declared once in `SPECS` (name, default, accepted form, meaning);
the README's configuration table is checked against it by a test, so the two cannot
drift. Modules never read `os.environ` themselves.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Defined with the rest of the tree; importable from here as before (the same class).
from producers.exceptions import SettingsError


class Refused(ValueError):
    """A parser's own reason, said instead of "expected <form>": fixed text, never the value."""


@dataclass(frozen=True)
class Spec:
    """One environment variable: its settings attribute, default, parser and meaning."""

    env: str
    attr: str
    default: str
    form: str
    parse: Callable[[str], Any]
    doc: str


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError


def _redis_url(raw: str) -> str:
    # redis-py's from_url and kombu's Redis transport both take redis:// and rediss://;
    # sentinel:// is kombu's spelling, made into redis-py Sentinel clients by
    # producers/connection.py; unix:// is not understood by kombu.
    from producers.redis_url import BadRedisUrl, check_redis_url

    try:
        return check_redis_url(raw)
    except BadRedisUrl as exc:
        raise Refused(str(exc)) from None


def _optional_name(raw: str) -> str:
    return _name(raw) if raw else ""


def _count(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError
    return value


def _http_url(raw: str) -> str:
    if not re.match(r"^https?://[^/\s]+", raw):
        raise ValueError
    return raw.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: M1: visible ASCII, nothing else. A token with an inner line break or space (a pasted
#: line wrap, two values joined) made http.client raise a ValueError quoting the header,
#: i.e. the token, into logs, outcomes, dead letters and Sentry; non-latin-1 characters
#: dead-lettered every job. Refused at start-up instead.
_TOKEN = re.compile(r"[\x21-\x7e]*")


def _token(raw: str) -> str:
    if not _TOKEN.fullmatch(raw):
        raise Refused("expected the server API access token in visible ASCII characters only "
                      "(no space, line break or control character inside)")
    return raw


def _name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:\-]+", raw):
        raise ValueError
    return raw


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in allowed:
            raise ValueError
        return raw.lower()

    return parse


def _rate(raw: str) -> str:
    from producers.rates import parse_rate  # local: rates imports nothing heavy

    parse_rate(raw)
    return raw


def _rate_map(raw: str) -> str:
    from producers.rates import parse_rate_map

    parse_rate_map(raw)
    return raw


def _weights(raw: str) -> str:
    from producers.rates import parse_weights

    parse_weights(raw)
    return raw


def _share(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < 1:
        raise ValueError
    return value


def _text(raw: str) -> str:
    return raw


#: Standard Webhooks: an HMAC key of at least 24 random bytes (192 bits), at most 64.
_SECRET_BYTES = (24, 64)
_WHSEC = "whsec_"


def _webhook_secret(raw: str) -> str:
    if not raw:
        return raw
    if not raw.startswith(_WHSEC):
        raise Refused(f"expected {_WHSEC} followed by base64 (the Standard Webhooks form)")
    try:
        key = base64.b64decode(raw[len(_WHSEC):], validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"expected {_WHSEC} followed by valid base64") from None
    low, high = _SECRET_BYTES
    if not low <= len(key) <= high:
        raise Refused(f"the key after {_WHSEC} must decode to {low}-{high} random bytes "
                      "(e.g. `openssl rand -base64 32`)")
    return raw


def _optional_http_url(raw: str) -> str:
    return _http_url(raw) if raw else ""


#: The events a webhook can carry (worker/webhooks/payloads.py `EventType`).
WEBHOOK_EVENT_TYPES = ("notification.succeeded", "notification.dead", "identifiers.unknown")


def _event_types(raw: str) -> str:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in WEBHOOK_EVENT_TYPES]
    if not names or unknown:
        raise Refused("expected a comma-separated list of " + ", ".join(WEBHOOK_EVENT_TYPES))
    return ",".join(names)


def _delays(raw: str) -> str:
    delays = [float(part) for part in raw.split(",")]
    if not all(0 < delay < 10 * 86400 for delay in delays):
        raise ValueError
    return ",".join(f"{delay:g}" for delay in delays)


def _basic_auth(raw: str) -> str:
    for entry in raw.split(",") if raw else ():
        user, _, password = entry.partition(":")
        if not user or not password:
            raise ValueError
    return raw


#: One NOTIFY_API_KEYS entry: NAME:SHA256HEX[:APP1|APP2] (notify_relay/api/auth.py reads it).
API_KEY_ENTRY = re.compile(r"(?P<name>[A-Za-z0-9_.\-]{1,64}):(?P<digest>[0-9a-f]{64})"
                           r"(?::(?P<apps>[^:,|\s]+(?:\|[^:,|\s]+)*))?")


def _api_keys(raw: str) -> str:
    names: set[str] = set()
    for number, entry in enumerate(raw.split(",") if raw else (), start=1):
        match = API_KEY_ENTRY.fullmatch(entry.strip())
        # Fixed text only: the value is a secret's hash and never echoed (parse_one).
        if match is None:
            raise Refused(f"entry {number} is not NAME:SHA256HEX[:APP1|APP2] (a name of "
                          "letters, digits, . _ -; 64 lowercase hex digits; `notify-relay "
                          "api-key NAME` prints one)")
        if match["name"] in names:
            raise Refused(f"entry {number} repeats a key name: each key needs its own")
        names.add(match["name"])
    return raw


SPECS: tuple[Spec, ...] = (
    Spec("REDIS_URL", "redis_url", "redis://127.0.0.1:6379/0",
         "redis://, rediss:// or sentinel://h:26379;sentinel://h2:26379 URL",
         _redis_url, "Redis used as broker, outcome store, retry park and dead-letter store "
         "(sentinel://: the primary Sentinel names, found again after a failover)."),
    Spec("NOTIFY_SENTINEL_MASTER", "sentinel_master", "", "the name Sentinel monitors, or "
         "empty", _optional_name, "With a sentinel:// REDIS_URL (required then): the "
         "`sentinel monitor` name of the primary to use."),
    Spec("NOTIFY_ENQUEUE_MIN_REPLICAS", "enqueue_min_replicas", "0", "whole number >= 0",
         _count, "An enqueue returns only once this many replicas have the job (WAIT), "
         "else raises NotReplicated (retry with the same idempotency key). 0: on the "
         "primary's word alone."),
    Spec("NOTIFY_ENQUEUE_REPLICA_TIMEOUT", "enqueue_replica_timeout_s", "1", "seconds > 0",
         _positive_float, "How long an enqueue waits for NOTIFY_ENQUEUE_MIN_REPLICAS."),
    Spec("PUSHWOOSH_API_TOKEN", "api_token", "", "the server API access token",
         _token, "Sent only as `Authorization: Token ...`; never logged or stored. "
         "Required by the worker."),
    Spec("PUSHWOOSH_BASE_URL", "base_url", "https://api.pushwoosh.com", "http(s) URL",
         _http_url, "Where `/messaging/v2/notify` lives (the emulator in local runs)."),
    Spec("NOTIFY_ALLOW_PLAIN_HTTP", "allow_plain_http", "false", "true or false", _bool,
         "Allow an http:// PUSHWOOSH_BASE_URL (or NOTIFY_WEBHOOK_URL) on a host that is not "
         "loopback (an emulator on a private network); the token then travels in clear."),
    Spec("SENTRY_DSN", "sentry_dsn", "", "a Sentry DSN, or empty",
         _text, "Sentry reporting is on when set."),
    Spec("SENTRY_ENVIRONMENT", "sentry_environment", "production", "text",
         _text, "Environment name attached to Sentry events."),
    Spec("SENTRY_RELEASE", "sentry_release", "", "text",
         _text, "Release attached to Sentry events (empty: the package version)."),
    Spec("NOTIFY_QUEUE", "queue", "notify", "letters, digits, . _ : -",
         _name, "Celery queue the jobs are published to and consumed from."),
    Spec("NOTIFY_KEY_PREFIX", "key_prefix", "notify-relay:", "letters, digits, . _ : -",
         _name, "Prefix of every Redis key this service writes (Celery's included)."),
    Spec("NOTIFY_RATE_LIMIT", "rate_limit", "600/m", "N/s or N/m, optional burst: 20/s:40",
         _rate, "Shared send rate per API token, across all workers and hosts."),
    Spec("NOTIFY_RATE_LIMITS", "app_rate_limits", "", "APP=N/s,APP2=N/m:burst",
         _rate_map, "Optional per-application limits, applied on top of the token's."),
    Spec("NOTIFY_APP_WEIGHTS", "app_weights", "", "APP=3,APP2=2 (whole numbers >= 1)",
         _weights, "Fair share inside a priority: jobs an application sends per turn "
         "(others 1)."),
    Spec("NOTIFY_BULK_SHARE", "bulk_share", "0.1", "a fraction, 0 <= x < 1",
         _share, "Share of the sends `bulk` jobs get while `normal` ones wait too "
         "(0: only when none wait)."),
    Spec("NOTIFY_MAX_ATTEMPTS", "max_attempts", "8", "whole number >= 1",
         _positive_int, "Failed sends before a job is dead-lettered as `max_attempts` (a 429 "
         "or a 401/403 wait does not count)."),
    Spec("NOTIFY_BACKOFF_BASE", "backoff_base_s", "1.0", "seconds > 0",
         _positive_float, "First retry delay ceiling; doubles each attempt (full jitter)."),
    Spec("NOTIFY_BACKOFF_MAX", "backoff_max_s", "300", "seconds > 0",
         _positive_float, "Cap of one retry delay."),
    Spec("NOTIFY_MAX_AGE", "max_age_s", "3600", "seconds > 0",
         _positive_float, "Default `expires_in`: past it a job is dead-lettered `expired`."),
    Spec("NOTIFY_RETRY_AMBIGUOUS", "retry_ambiguous", "true", "true or false",
         _bool, "Retry when the request may have reached the server (read timeout, reset)."),
    Spec("NOTIFY_CIRCUIT_PROBE_INTERVAL", "circuit_probe_interval_s", "10", "seconds > 0",
         _positive_float, "While 401/403 stops all sends, one probe send this often."),
    Spec("NOTIFY_CONNECT_TIMEOUT", "connect_timeout_s", "3.05", "seconds > 0",
         _positive_float, "HTTP connect timeout."),
    Spec("NOTIFY_READ_TIMEOUT", "read_timeout_s", "10", "seconds > 0",
         _positive_float, "HTTP read timeout."),
    Spec("NOTIFY_VISIBILITY_TIMEOUT", "visibility_timeout_s", "60", "seconds > 0",
         _positive_float, "A job held by a dead worker is redelivered after this long."),
    Spec("NOTIFY_OUTCOME_TTL", "outcome_ttl_s", "604800", "seconds > 0",
         _positive_float, "How long outcomes and attempt logs are kept."),
    Spec("NOTIFY_IDEMPOTENCY_WINDOW", "idempotency_window_s", "86400", "seconds > 0",
         _positive_float, "A repeated idempotency key inside this window returns the first job."),
    Spec("NOTIFY_DEAD_MAX", "dead_max", "100000", "whole number >= 1",
         _positive_int, "Dead letters kept at most, per store (jobs; webhooks): oldest "
         "dropped first."),
    Spec("NOTIFY_DEAD_TTL", "dead_ttl_s", "1209600", "seconds > 0",
         _positive_float, "Dead letters (jobs and webhooks) older than this are dropped."),
    Spec("NOTIFY_MAX_TARGETS", "max_targets", "1000", "whole number >= 1",
         _positive_int, "Most hwids / users / push_tokens in one transactional request."),
    Spec("NOTIFY_CONCURRENCY", "concurrency", "16", "whole number >= 1",
         _positive_int, "Celery threads per worker process: messages taken at once; a "
         "one-job message sends on its thread (run one process per core)."),
    Spec("NOTIFY_BATCH_SIZE", "batch_size", "32", "whole number >= 1",
         _positive_int, "Most jobs in one queue message the dispatcher hands out."),
    Spec("NOTIFY_BATCH_SENDERS", "batch_senders", "64", "whole number >= 1",
         _positive_int, "Threads per worker process sending the jobs of batch messages."),
    Spec("NOTIFY_RETURN_UNKNOWN_IDENTIFIERS", "return_unknown_identifiers", "false",
         "true or false", _bool, "Set `return_unknown_identifiers` on every transactional "
         "request that does not set it (at enqueue: the stored request is what is sent)."),
    Spec("NOTIFY_UNKNOWN_IDS_MAX", "unknown_ids_max", "100000", "whole number >= 1",
         _positive_int, "Jobs whose unknown identifiers are kept for `unknown-ids export` "
         "(oldest dropped first; each kept NOTIFY_OUTCOME_TTL at most)."),
    Spec("NOTIFY_WEBHOOK_URL", "webhook_url", "", "http(s) URL, or empty", _optional_http_url,
         "Where outcome events are POSTed (Standard Webhooks); off when empty."),
    Spec("NOTIFY_WEBHOOK_SECRET", "webhook_secret", "", "whsec_ + base64 of 24-64 bytes",
         _webhook_secret, "Signs every webhook (HMAC-SHA256); required with "
         "NOTIFY_WEBHOOK_URL. Never logged or sent."),
    Spec("NOTIFY_WEBHOOK_EVENTS", "webhook_events",
         ",".join(WEBHOOK_EVENT_TYPES), "comma-separated event types", _event_types,
         "Which events are sent."),
    Spec("NOTIFY_WEBHOOK_RETRY_DELAYS", "webhook_retry_delays",
         "5,300,1800,7200,18000,36000,36000", "seconds, comma-separated",
         _delays, "Waits between tries of one webhook (+0-10 % jitter); after the last, a "
         "webhook dead letter. The default is Svix's ladder: 8 tries over ~27.6 h."),
    Spec("NOTIFY_WEBHOOK_TIMEOUT", "webhook_timeout_s", "15", "seconds > 0",
         _positive_float, "Whole-request budget of one webhook POST (connect included)."),
    Spec("NOTIFY_WEBHOOK_CONCURRENCY", "webhook_concurrency", "4", "whole number >= 1",
         _positive_int, "Webhook POSTs in flight per worker process (threads of their own)."),
    Spec("NOTIFY_WEBHOOK_MAX_PENDING", "webhook_max_pending", "100000", "whole number >= 1",
         _positive_int, "Webhooks waiting to be delivered at most; past it a new one goes "
         "straight to the webhook dead letters (`overflow`)."),
    Spec("NOTIFY_TASK_EVENTS", "task_events", "false", "true or false",
         _bool, "Celery task events from the start (Flower turns them on when it watches)."),
    Spec("NOTIFY_LOG_FORMAT", "log_format", "text", "text or json",
         _choice("text", "json"), "Worker log line format."),
    Spec("NOTIFY_LOG_LEVEL", "log_level", "INFO", "DEBUG, INFO, WARNING, ERROR",
         _choice("debug", "info", "warning", "error"), "Worker log level."),
    Spec("FLOWER_BASIC_AUTH", "flower_basic_auth", "", "user:password[,user2:password2]",
         _basic_auth, "Login `notify-relay flower` requires (Flower reads it itself)."),
    Spec("NOTIFY_FLOWER_LOCAL", "flower_local", "false", "true or false", _bool,
         "Let `notify-relay flower` run without a login, on 127.0.0.1 only."),
    Spec("NOTIFY_API_KEYS", "api_keys", "", "NAME:SHA256HEX[:APP1|APP2],...", _api_keys,
         "Keys `notify-relay api` accepts (`Authorization: Bearer <key>`), as SHA-256 "
         "hashes, each optionally limited to some applications; `notify-relay api-key "
         "NAME` makes one."),
    Spec("NOTIFY_API_LOCAL", "api_local", "false", "true or false", _bool,
         "Let `notify-relay api` run without keys, on 127.0.0.1 only."),
    Spec("NOTIFY_DASHBOARD_AUTH", "dashboard_auth", "", "user:password[,user2:password2]",
         _basic_auth, "Login of the dashboard `notify-relay api` serves at /ui (HTTP Basic; "
         "apart from the API keys). Without it (or NOTIFY_DASHBOARD_LOCAL) /ui is off."),
    Spec("NOTIFY_DASHBOARD_LOCAL", "dashboard_local", "false", "true or false", _bool,
         "Serve the dashboard without a login, to 127.0.0.1 only."),
    Spec("NOTIFY_DASHBOARD_CONTROL", "dashboard_control", "false", "true or false", _bool,
         "Dashboard buttons that replay and purge dead letters (`notify-relay api "
         "--allow-control` sets it); off: read-only."),
    Spec("NOTIFY_DASHBOARD_SECRET", "dashboard_secret", "", "any text (32+ random bytes)",
         _text, "Key of the dashboard's CSRF tokens; unset: `notify-relay api` makes one per "
         "start (shared by its --workers)."),
)


@dataclass(frozen=True)
class Settings:
    """Every setting, parsed and checked. Build with `Settings.from_env(os.environ)`."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    sentinel_master: str = ""
    enqueue_min_replicas: int = 0
    enqueue_replica_timeout_s: float = 1.0
    api_token: str = field(default="", repr=False)
    base_url: str = "https://api.pushwoosh.com"
    allow_plain_http: bool = False
    sentry_dsn: str = field(default="", repr=False)
    sentry_environment: str = "production"
    sentry_release: str = ""
    queue: str = "notify"
    key_prefix: str = "notify-relay:"
    rate_limit: str = "600/m"
    app_rate_limits: str = ""
    app_weights: str = ""
    bulk_share: float = 0.1
    max_attempts: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    max_age_s: float = 3600.0
    retry_ambiguous: bool = True
    circuit_probe_interval_s: float = 10.0
    connect_timeout_s: float = 3.05
    read_timeout_s: float = 10.0
    visibility_timeout_s: float = 60.0
    outcome_ttl_s: float = 604800.0
    idempotency_window_s: float = 86400.0
    dead_max: int = 100000
    dead_ttl_s: float = 1209600.0
    max_targets: int = 1000
    concurrency: int = 16
    batch_size: int = 32
    batch_senders: int = 64
    return_unknown_identifiers: bool = False
    unknown_ids_max: int = 100000
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_events: str = ",".join(WEBHOOK_EVENT_TYPES)
    webhook_retry_delays: str = "5,300,1800,7200,18000,36000,36000"
    webhook_timeout_s: float = 15.0
    webhook_concurrency: int = 4
    webhook_max_pending: int = 100000
    task_events: bool = False
    log_format: str = "text"
    log_level: str = "info"
    flower_basic_auth: str = field(default="", repr=False)
    flower_local: bool = False
    api_keys: str = field(default="", repr=False)
    api_local: bool = False
    dashboard_auth: str = field(default="", repr=False)
    dashboard_local: bool = False
    dashboard_control: bool = False
    dashboard_secret: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Parse every variable in `SPECS`; raise `SettingsError` naming the first bad one."""
        values: dict[str, Any] = {}
        for spec in SPECS:
            raw = environ.get(spec.env)
            if raw is None or raw == "":
                raw = spec.default
            values[spec.attr] = parse_one(spec, raw)
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules that a single variable cannot express."""
        self._check_sentinel()
        # L9: the token goes in the Authorization header; over plain http to another host
        # it travels in clear (and to any HTTP proxy). The local emulator stays allowed.
        host = urlsplit(self.base_url).hostname or ""
        if self.base_url.startswith("http://") and not (_is_loopback(host)
                                                        or self.allow_plain_http):
            raise SettingsError(
                "PUSHWOOSH_BASE_URL is not valid: plain http:// is only for a loopback host "
                "(127.0.0.1, ::1, localhost): elsewhere the API token would travel in clear; "
                "use https://, or set NOTIFY_ALLOW_PLAIN_HTTP=true for a test endpoint")
        if self.webhook_url and not self.webhook_secret:
            raise SettingsError(
                "NOTIFY_WEBHOOK_SECRET is not set: NOTIFY_WEBHOOK_URL needs a secret to sign "
                "webhooks with (whsec_ + base64 of 24-64 random bytes, e.g. "
                "`echo whsec_$(openssl rand -base64 32)`)")
        webhook_host = urlsplit(self.webhook_url).hostname or ""
        if self.webhook_url.startswith("http://") and not (_is_loopback(webhook_host)
                                                           or self.allow_plain_http):
            raise SettingsError(
                "NOTIFY_WEBHOOK_URL is not valid: plain http:// is only for a loopback host: "
                "elsewhere outcome events would travel in clear; use https://, or set "
                "NOTIFY_ALLOW_PLAIN_HTTP=true for a receiver on a private network")
        if self.outcome_ttl_s <= self.max_age_s:
            raise SettingsError(
                "NOTIFY_OUTCOME_TTL must be longer than NOTIFY_MAX_AGE, or outcomes of "
                f"waiting jobs would vanish (got {self.outcome_ttl_s:g} <= {self.max_age_s:g})"
            )
        if self.visibility_timeout_s <= self.connect_timeout_s + self.read_timeout_s:
            raise SettingsError(
                "NOTIFY_VISIBILITY_TIMEOUT must be longer than NOTIFY_CONNECT_TIMEOUT + "
                "NOTIFY_READ_TIMEOUT, or a slow send would be redelivered while still running"
            )

    def _check_sentinel(self) -> None:
        from producers.redis_url import is_sentinel

        sentinel = is_sentinel(self.redis_url)
        if sentinel and not self.sentinel_master:
            raise SettingsError(
                "NOTIFY_SENTINEL_MASTER is not set: REDIS_URL is a sentinel:// URL, which "
                "needs the name of the primary the sentinels monitor (their `sentinel "
                "monitor <name> ...` line)")
        if self.sentinel_master and not sentinel:
            raise SettingsError(
                "NOTIFY_SENTINEL_MASTER is set but REDIS_URL is not a sentinel:// URL: "
                "use sentinel://host:26379;sentinel://host2:26379, or unset it")

    @property
    def watchdog_grace_s(self) -> float:
        """How long a job may go unseen before the watchdog looks for its message.

        Twice the visibility timeout: by then kombu has put back any message whose
        worker died, so a message that is still nowhere was lost (worker/watchdog.py).
        """
        return 2 * self.visibility_timeout_s

    @property
    def webhooks_on(self) -> bool:
        return bool(self.webhook_url)

    @property
    def webhook_event_set(self) -> frozenset[str]:
        return frozenset(self.webhook_events.split(","))

    @property
    def webhook_ladder_s(self) -> tuple[float, ...]:
        """NOTIFY_WEBHOOK_RETRY_DELAYS: the wait after each failed try (tries = len + 1)."""
        return tuple(float(part) for part in self.webhook_retry_delays.split(","))

    @property
    def max_sends(self) -> int:
        """Sends one worker process may have in flight: its HTTP and Redis pools' size."""
        return self.concurrency + self.batch_senders

    def require_token(self) -> str:
        """The API token, or a `SettingsError` saying how to provide it."""
        if not self.api_token:
            raise SettingsError(
                "PUSHWOOSH_API_TOKEN is not set: the worker needs the server API token "
                "(for local runs, `notify-relay demo` starts the emulator and sets one)"
            )
        return self.api_token

    def to_env(self) -> dict[str, str]:
        """The environment variables that rebuild these settings (for child processes)."""
        env = {}
        for spec in SPECS:
            value = getattr(self, spec.attr)
            if isinstance(value, bool):
                value = "true" if value else "false"
            env[spec.env] = str(value)
        return env

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_SECRETS = frozenset({"api_token", "sentry_dsn", "flower_basic_auth", "webhook_secret",
                      "api_keys", "dashboard_auth", "dashboard_secret"})


def parse_one(spec: Spec, raw: str) -> Any:
    try:
        return spec.parse(raw.strip())
    except (ValueError, TypeError) as exc:
        shown = "***" if spec.attr in _SECRETS else repr(masked(raw))
        why = str(exc) if isinstance(exc, Refused) else f"expected {spec.form}"
        raise SettingsError(f"{spec.env}={shown} is not valid: {why}") from None


def masked(raw: str) -> str:
    """L9: `raw` as an error may echo it: what precedes the last '@' (a URL's userinfo,
    e.g. `redis://:password@host`) is masked; a user name before a ':' is kept."""
    head, at, rest = raw.rpartition("@")
    if not at:
        return raw
    scheme, sep, userinfo = head.partition("://")
    if not sep:
        scheme, userinfo = "", head
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user + colon if colon else ''}***@{rest}"
