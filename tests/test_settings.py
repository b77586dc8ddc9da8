"""`producers.settings`: SPECS, the Settings dataclass and the errors a bad value gives."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from producers.settings import SPECS, Settings, SettingsError, _text

#: One wrong value per variable whose value is checked (free text ones accept anything).
BAD_VALUES: dict[str, str] = {
    "REDIS_URL": "localhost:6379",
    "NOTIFY_SENTINEL_MASTER": "my master",
    "NOTIFY_ENQUEUE_MIN_REPLICAS": "-1",
    "NOTIFY_ENQUEUE_REPLICA_TIMEOUT": "0",
    "PUSHWOOSH_BASE_URL": "api.pushwoosh.com",
    "NOTIFY_QUEUE": "my queue",
    "NOTIFY_KEY_PREFIX": "notify relay",
    "NOTIFY_RATE_LIMIT": "fast",
    "NOTIFY_RATE_LIMITS": "app-1=lots",
    "NOTIFY_APP_WEIGHTS": "APP=0",
    "NOTIFY_BULK_SHARE": "1.5",
    "NOTIFY_MAX_ATTEMPTS": "0",
    "NOTIFY_BACKOFF_BASE": "-1",
    "NOTIFY_BACKOFF_MAX": "5min",
    "NOTIFY_MAX_AGE": "0",
    "NOTIFY_RETRY_AMBIGUOUS": "maybe",
    "NOTIFY_TASK_EVENTS": "sometimes",
    "NOTIFY_CIRCUIT_PROBE_INTERVAL": "never",
    "NOTIFY_CONNECT_TIMEOUT": "abc",
    "NOTIFY_READ_TIMEOUT": "0",
    "NOTIFY_VISIBILITY_TIMEOUT": "-60",
    "NOTIFY_OUTCOME_TTL": "a week",
    "NOTIFY_IDEMPOTENCY_WINDOW": "1d",
    "NOTIFY_DEAD_MAX": "1.5",
    "NOTIFY_DEAD_TTL": "forever",
    "NOTIFY_MAX_TARGETS": "-3",
    "NOTIFY_CONCURRENCY": "many",
    "NOTIFY_BATCH_SIZE": "0",
    "NOTIFY_BATCH_SENDERS": "lots",
    "NOTIFY_LOG_FORMAT": "xml",
    "NOTIFY_LOG_LEVEL": "verbose",
    "FLOWER_BASIC_AUTH": "ops-without-password",
    "NOTIFY_FLOWER_LOCAL": "maybe",
    "NOTIFY_ALLOW_PLAIN_HTTP": "sometimes",
    "NOTIFY_RETURN_UNKNOWN_IDENTIFIERS": "perhaps",
    "NOTIFY_UNKNOWN_IDS_MAX": "0",
    "NOTIFY_WEBHOOK_URL": "hooks.example.com/in",
    "NOTIFY_WEBHOOK_RETRY_DELAYS": "5,soon",
    "NOTIFY_WEBHOOK_TIMEOUT": "0",
    "NOTIFY_WEBHOOK_CONCURRENCY": "none",
    "NOTIFY_WEBHOOK_MAX_PENDING": "-1",
    "NOTIFY_API_LOCAL": "perhaps",
    "NOTIFY_DASHBOARD_AUTH": "ops:",
    "NOTIFY_DASHBOARD_LOCAL": "maybe",
    "NOTIFY_DASHBOARD_CONTROL": "sometimes",
}
#: Values refused with the parser's own reason instead of the accepted form.
REFUSED_VALUES: dict[str, tuple[str, str]] = {
    "PUSHWOOSH_API_TOKEN": ("abc123\nSECRETPART", "in visible ASCII characters only"),
    "NOTIFY_WEBHOOK_SECRET": ("SECRETPART", "expected whsec_ followed by base64"),
    "NOTIFY_WEBHOOK_EVENTS": ("notification.sent", "a comma-separated list of"),
    "NOTIFY_API_KEYS": ("orders:" + "ab" * 32 + ",SECRETPART",
                        "entry 2 is not NAME:SHA256HEX[:APP1|APP2]"),
}
#: Variables whose value an error message must not repeat.
SECRET = {"PUSHWOOSH_API_TOKEN", "SENTRY_DSN", "FLOWER_BASIC_AUTH", "NOTIFY_WEBHOOK_SECRET",
          "NOTIFY_API_KEYS", "NOTIFY_DASHBOARD_AUTH"}
SPEC_BY_ENV = {spec.env: spec for spec in SPECS}


def test_specs_and_the_settings_dataclass_declare_the_same_fields():
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {spec.attr for spec in SPECS} == fields
    assert len({spec.env for spec in SPECS}) == len(SPECS)


def test_an_empty_environment_gives_the_dataclass_defaults():
    # The README documents SPECS defaults; code that builds Settings() gets the same.
    assert Settings.from_env({}) == Settings()


def test_an_empty_value_means_the_default():
    assert Settings.from_env(dict.fromkeys(SPEC_BY_ENV, "")) == Settings()


def test_to_env_rebuilds_the_same_settings():
    custom = Settings(rate_limit="20/s:40", retry_ambiguous=False, read_timeout_s=4.5,
                      queue="q.1", key_prefix="nr:")
    assert Settings.from_env(custom.to_env()) == custom


def test_every_checked_variable_has_a_bad_value_case():
    checked = {spec.env for spec in SPECS if spec.parse is not _text}
    assert checked == set(BAD_VALUES) | set(REFUSED_VALUES)


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES.items(), ids=list(BAD_VALUES))
def test_a_bad_value_names_the_variable_and_the_accepted_form(variable, value):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    shown = "***" if variable in SECRET else repr(value)
    assert message.startswith(f"{variable}={shown} is not valid")
    if variable in SECRET:
        assert value not in message
    assert message.endswith(f"expected {SPEC_BY_ENV[variable].form}")
    assert "\n" not in message


@pytest.mark.parametrize(("environ", "named"), [
    ({"NOTIFY_VISIBILITY_TIMEOUT": "13"}, "NOTIFY_VISIBILITY_TIMEOUT"),  # <= 3.05 + 10
    ({"NOTIFY_OUTCOME_TTL": "3600"}, "NOTIFY_OUTCOME_TTL"),  # <= NOTIFY_MAX_AGE
])
def test_a_cross_variable_rule_names_the_variable_to_change(environ, named):
    with pytest.raises(SettingsError, match=f"^{named} must be longer than"):
        Settings.from_env(environ)


def test_a_missing_token_is_an_error_only_where_it_is_required():
    settings = Settings.from_env({})  # producers and the scheduler need no token
    with pytest.raises(SettingsError, match="^PUSHWOOSH_API_TOKEN is not set"):
        settings.require_token()
    assert Settings.from_env({"PUSHWOOSH_API_TOKEN": "t"}).require_token() == "t"


def test_the_token_never_appears_in_the_settings_repr():
    assert "s3cret" not in repr(Settings.from_env({"PUSHWOOSH_API_TOKEN": "s3cret"}))


@pytest.mark.parametrize("variable", REFUSED_VALUES)
def test_a_refused_value_names_the_variable_and_the_reason(variable):
    value, reason = REFUSED_VALUES[variable]
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    shown = "***" if variable in SECRET else repr(value)
    assert message.startswith(f"{variable}={shown} is not valid: ")
    assert reason in message and "\n" not in message


@pytest.mark.parametrize("token", [
    "abc123\nSECRETPART", "abc\r\nSECRET", "abc SECRET", "abc\tSECRET", "abc\x00SECRET",
    "abc\x1bSECRET", "tök€n-SECRET", "abc\u2028SECRET", "abc\x7fSECRET",
])
def test_a_token_a_header_cannot_carry_is_refused_at_start_without_its_value(token):
    # M1: http.client would raise later with the token in its text.
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PUSHWOOSH_API_TOKEN": token})
    message = str(caught.value)
    assert message.startswith("PUSHWOOSH_API_TOKEN=*** is not valid")
    assert "SECRET" not in message and "abc" not in message


@pytest.mark.parametrize("token", ["t", "  padded-at-the-ends\n", "A1b2-C3_d4.e5~f6+g7/h8="])
def test_a_token_of_visible_ascii_is_accepted_and_its_ends_stripped(token):
    assert Settings.from_env({"PUSHWOOSH_API_TOKEN": token}).api_token == token.strip()


ROOT = Path(__file__).resolve().parent.parent


def test_the_cli_exits_2_with_one_line_and_no_token_for_a_bad_token():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "PUSHWOOSH_", "SENTRY_", "REDIS_"))}
    env["PUSHWOOSH_API_TOKEN"] = "abc123\nSECRETPART"
    notify_relay = Path(sys.executable).parent / "notify-relay"
    done = subprocess.run([str(notify_relay), "enqueue", str(ROOT / "examples" / "segment.json")],
                          env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "notify-relay: configuration error: PUSHWOOSH_API_TOKEN=*** is not valid: expected the "
        "server API access token in visible ASCII characters only (no space, line break or "
        "control character inside); fix it in the environment (`notify-relay config` lists "
        "every variable)"]
    assert "SECRET" not in done.stdout + done.stderr


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080", "http://127.0.0.2:8080", "http://[::1]:8080", "http://localhost:8080",
    "http://LocalHost", "https://api.example.com", "https://user:pw@api.example.com/",
])
def test_plain_http_is_accepted_for_loopback_only_and_https_anywhere(url):
    assert Settings.from_env({"PUSHWOOSH_BASE_URL": url}).base_url == url.rstrip("/")


@pytest.mark.parametrize("url", [
    "http://api.pushwoosh.com", "http://10.0.0.7:8080", "http://emulator:8080",
    "http://127.0.0.1@evil.example", "http://localhost.evil.example", "http://[::2]:80",
])
def test_plain_http_to_any_other_host_is_refused(url):
    # L9: the token would travel in clear (and to any HTTP proxy on the way).
    with pytest.raises(SettingsError, match="plain http:// is only for a loopback host"):
        Settings.from_env({"PUSHWOOSH_BASE_URL": url})
    allowed = {"PUSHWOOSH_BASE_URL": url, "NOTIFY_ALLOW_PLAIN_HTTP": "true"}
    assert Settings.from_env(allowed).base_url == url  # a test endpoint, on purpose


@pytest.mark.parametrize(("variable", "value", "shown"), [
    ("REDIS_URL", "reddis://:hunter2@redis:6379/0", "'reddis://:***@redis:6379/0'"),
    ("REDIS_URL", "reddis://ops:hunter2@redis", "'reddis://ops:***@redis'"),
    ("REDIS_URL", "reddis://hunter2@redis", "'reddis://***@redis'"),
    ("REDIS_URL", "redis//:hunter2@redis", "'redis//:***@redis'"),
    ("PUSHWOOSH_BASE_URL", "ftp://ops:hunter2@api", "'ftp://ops:***@api'"),
])
def test_an_invalid_url_is_echoed_with_its_password_masked(variable, value, shown):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert str(caught.value).startswith(f"{variable}={shown} is not valid")
    assert "hunter2" not in str(caught.value)


WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes


@pytest.mark.parametrize(("secret", "why"), [
    ("whsec_c2hvcnQ=", "must decode to 24-64 random bytes"),
    ("whsec_" + "QUFB" * 30, "must decode to 24-64 random bytes"),  # 90 bytes
    ("whsec_not base64!", "followed by valid base64"),
])
def test_a_webhook_secret_is_a_standard_webhooks_key_and_never_echoed(secret, why):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"NOTIFY_WEBHOOK_SECRET": secret})
    assert why in str(caught.value) and secret[6:] not in str(caught.value)


def test_a_webhook_url_needs_a_secret_and_plain_http_only_to_loopback():
    with pytest.raises(SettingsError, match="^NOTIFY_WEBHOOK_SECRET is not set"):
        Settings.from_env({"NOTIFY_WEBHOOK_URL": "https://hooks.example.com/in"})
    with pytest.raises(SettingsError, match="plain http:// is only for a loopback host"):
        Settings.from_env({"NOTIFY_WEBHOOK_URL": "http://hooks.example.com/in",
                           "NOTIFY_WEBHOOK_SECRET": WHSEC})
    settings = Settings.from_env({"NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/in",
                                  "NOTIFY_WEBHOOK_SECRET": WHSEC,
                                  "NOTIFY_WEBHOOK_EVENTS": " notification.dead ,",
                                  "NOTIFY_WEBHOOK_RETRY_DELAYS": "0.5, 2"})
    assert settings.webhooks_on and WHSEC not in repr(settings)
    assert settings.webhook_event_set == {"notification.dead"}
    assert settings.webhook_ladder_s == (0.5, 2.0)
