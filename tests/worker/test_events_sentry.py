"""The Sentry scrubber and set-up, as pure functions (the SDK's transport: tests/integration)."""

from __future__ import annotations

import json

import pytest

from producers.settings import Settings
from worker.sentry import DELIVERY_LOGGER, FILTERED, Scrubber, init, integrations, release

TOKEN = "secret-token-0123456789abcdef"


def an_event() -> dict:
    """What the SDK could build inside a task: exception text, frames, breadcrumbs, extras."""
    return {
        "message": "notify-relay dead letter: permanent",
        "exception": {"values": [{
            "type": "HTTPError",
            "value": f"401 for url with headers {{'Authorization': 'Token {TOKEN}'}}",
            "stacktrace": {"frames": [{"function": "post", "vars": {"headers": TOKEN}}]},
        }]},
        "breadcrumbs": {"values": [
            {"category": "celery", "message": "got redis://:hunter2@redis:6379/0",
             "data": {"data": {"args": "([{'users': {'list': ['user-77']}}],)"}}},
            {"category": "log", "message": "mail ada@example.com failed"},
        ]},
        "extra": {"celery-job": {"task_name": "notify_relay.send",
                                 "args": [{"request": {"transactional": {
                                     "users": {"list": ["user-77"]},
                                     "payload": {"content": "Your code is 4821"}}}}],
                                 "kwargs": {}}},
        "tags": {"job_id": "j-1", "application": "ABCDE-12345", "reason": "permanent"},
    }


def test_the_scrubber_removes_the_token_personal_data_and_credentials_everywhere():
    scrubbed = Scrubber(TOKEN).before_send(an_event(), {})

    text = json.dumps(scrubbed)
    for secret in (TOKEN, "user-77", "ada@example.com", "hunter2", "4821"):
        assert secret not in text, secret
    assert scrubbed["extra"]["celery-job"]["args"] == FILTERED
    assert scrubbed["extra"]["celery-job"]["task_name"] == "notify_relay.send"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] == FILTERED


def test_the_scrubber_keeps_what_an_operator_needs():
    scrubbed = Scrubber(TOKEN).before_send(an_event(), {})

    assert scrubbed["tags"] == an_event()["tags"]
    assert scrubbed["message"] == "notify-relay dead letter: permanent"
    assert scrubbed["breadcrumbs"]["values"][0]["message"] == "got redis://:***@redis:6379/0"
    assert "Token [Filtered]" in scrubbed["exception"]["values"][0]["value"]


def test_delivery_log_lines_are_breadcrumbs_not_events_since_alerts_sends_those():
    scrubber = Scrubber(TOKEN)

    assert scrubber.before_send({"logger": DELIVERY_LOGGER, "message": "x"}, {}) is None
    assert scrubber.before_send({"logger": "notify_relay.task", "message": "x"}, {}) == {
        "logger": "notify_relay.task", "message": "x"}
    crumb = scrubber.before_breadcrumb({"message": f"Token {TOKEN}"}, {})
    assert crumb == {"message": f"Token {FILTERED}"}


def test_without_a_dsn_nothing_is_initialized():
    assert init(Settings(sentry_dsn="")) is False


def test_the_release_defaults_to_the_package_version():
    assert release(Settings(sentry_release="v9")) == "v9"
    assert release(Settings()).startswith("notify-relay@")


def header_error(token: str) -> ValueError:
    """The error http.client raises for a header it cannot carry (M1)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1")
    connection.putrequest("POST", "/")
    try:
        connection.putheader("Authorization", f"Token {token}")
    except ValueError as exc:
        return exc
    raise AssertionError("http.client accepted the header")


@pytest.mark.parametrize("token", ["abc123\nSECRETPART", "abc\r\nSECRET\x1bPART", "a'b\"c\nSECRET"])
def test_the_scrubber_masks_the_token_in_its_escaped_forms(token):
    # M1: the header error quotes the token as bytes, a traceback or %r as an escaped str.
    error = header_error(token)
    texts = [str(error), repr(error), f"internal error: ValueError: {error}", f"{token!r}",
             ascii(token), json.dumps({"e": token}), repr(token.encode())]
    scrubber = Scrubber(token)
    for text in texts:
        scrubbed = scrubber.scrub_text(text)
        assert "SECRET" not in scrubbed and "abc" not in scrubbed, (text, scrubbed)
        assert FILTERED in scrubbed
    event = scrubber.before_send({"exception": {"values": [{"value": repr(error)}]},
                                  "contexts": {"notify": {"error": str(error)}}}, {})
    assert "SECRET" not in json.dumps(event)


def test_the_integrations_are_the_defaults_without_stdlib():
    from sentry_sdk.integrations import _DEFAULT_INTEGRATIONS

    names = {type(integration).__name__ for integration in integrations()}
    defaults = {path.rsplit(".", 1)[1] for path in _DEFAULT_INTEGRATIONS}
    assert names == (defaults - {"StdlibIntegration"}) | {"CeleryIntegration"}
