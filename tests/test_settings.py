"""`producers.settings`: SPECS, the Settings dataclass and the errors a bad value gives."""

from __future__ import annotations

import dataclasses

import pytest

from producers.settings import SPECS, Settings, SettingsError, _text

#: One wrong value per variable whose value is checked (free text ones accept anything).
BAD_VALUES: dict[str, str] = {
    "REDIS_URL": "localhost:6379",
    "PUSHWOOSH_BASE_URL": "api.pushwoosh.com",
    "NOTIFY_QUEUE": "my queue",
    "NOTIFY_KEY_PREFIX": "notify relay",
    "NOTIFY_RATE_LIMIT": "fast",
    "NOTIFY_RATE_LIMITS": "app-1=lots",
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
}
#: Variables whose value an error message must not repeat.
SECRET = {"PUSHWOOSH_API_TOKEN", "SENTRY_DSN", "FLOWER_BASIC_AUTH"}
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
    assert checked == set(BAD_VALUES)


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
