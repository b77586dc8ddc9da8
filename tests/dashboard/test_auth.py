"""The dashboard's login and CSRF tokens, as pure functions (no server)."""

from __future__ import annotations

import base64
import hmac

import pytest

from notify_relay.dashboard import auth
from notify_relay.dashboard.auth import LOCAL_USER, Gate, check_can_serve, parse_users
from producers.settings import Settings, SettingsError

SECRET = b"k" * 32


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def gate(raw: str = "ops:pw1,viewer:pw2", local: bool = False) -> Gate:
    return Gate(parse_users(raw), local, SECRET)


@pytest.mark.parametrize(("header", "who"), [
    (basic("ops", "pw1"), "ops"),
    (basic("viewer", "pw2"), "viewer"),
    (basic("viewer", "pw1"), None),  # another user's password
    (basic("ops", "pw1x"), None),
    (basic("nobody", "pw1"), None),
    ("basic " + base64.b64encode(b"ops:pw1").decode(), "ops"),  # the scheme in any case
    ("Bearer " + base64.b64encode(b"ops:pw1").decode(), None),
    ("Basic !!!not-base64", None),
    ("Basic " + base64.b64encode(b"ops-no-colon").decode(), None),
    ("", None),
    (None, None),
])
def test_a_request_is_the_user_whose_login_it_presents_or_nobody(header, who):
    assert gate().who(header, "203.0.113.9") == who


def test_every_configured_login_is_compared_whatever_matched_first(monkeypatch):
    calls, compare = [], hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(len(a))
        return compare(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    three = gate("ops:pw1,b:pw2,c:pw3")

    assert three.who(basic("ops", "pw1"), None) == "ops"  # the first one matches ...
    assert len(calls) == 6 and set(calls) == {32}  # ... and all three were compared, in full
    calls.clear()
    assert three.who(basic("ops", "a-much-longer-wrong-password"), None) is None
    assert len(calls) == 6 and set(calls) == {32}  # digests: one length whatever was sent


def test_local_mode_lets_in_loopback_clients_only_and_without_a_login():
    local = gate("", local=True)

    assert local.who(None, "127.0.0.1") == LOCAL_USER
    assert local.who(None, "::1") == LOCAL_USER
    assert local.who(basic("ops", "pw1"), "192.0.2.7") is None
    assert local.who(None, None) is None


def test_a_login_wins_over_local_mode():
    both = gate("ops:pw1", local=True)

    assert not both.local
    assert both.who(None, "127.0.0.1") is None
    assert both.who(basic("ops", "pw1"), "127.0.0.1") == "ops"


def test_no_login_and_no_local_mode_is_a_dashboard_that_is_off():
    assert not gate("").on
    assert gate("", local=True).on and gate().on


def test_the_csrf_token_is_the_user_s_and_the_server_key_s():
    one, other_key = gate(), Gate(parse_users("ops:pw1"), False, b"x" * 32)
    token = one.csrf_token("ops")

    assert one.csrf_ok("ops", token)
    assert not one.csrf_ok("viewer", token)  # another user's token
    assert not other_key.csrf_ok("ops", token)  # another server's
    assert not one.csrf_ok("ops", None) and not one.csrf_ok("ops", "")
    assert not one.csrf_ok("ops", token[:-1] + "é")


def test_local_mode_without_a_login_refuses_a_public_listen_address():
    local = Settings(dashboard_local=True)
    check_can_serve(local, "127.0.0.1")
    check_can_serve(local.replace(dashboard_auth="ops:pw"), "0.0.0.0")
    check_can_serve(Settings(), "0.0.0.0")  # dashboard off: nothing to refuse
    with pytest.raises(SettingsError, match="serves 127.0.0.1 only, not '0.0.0.0'"):
        check_can_serve(local, "0.0.0.0")
