"""producers.keys: app_scope, the key-safe name of an application (M3)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.keys import Keys, app_scope

SAFE = re.compile(r"[A-Za-z0-9-]{1,64}|h:[0-9a-f]{16}")


@pytest.mark.parametrize("code", ["ABCDE-12345", "YOUR-APP-CODE", "a" * 64, "X"])
def test_a_plain_code_is_its_own_scope(code):
    assert app_scope(code) == code


@pytest.mark.parametrize("code", [
    "VICTIM-00001:holds", "ABCDE-12345\n\x1b[31m", "a" * 65, "", "{tag}", "app*", "a b",
    "ABCDE-1234\u00e9", "lone \ud800",
])
def test_any_other_code_is_hashed(code):
    expected = hashlib.sha1(code.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    assert app_scope(code) == f"h:{expected}"


def test_a_code_cannot_name_another_application_s_keys():
    # The verified collision: app `VICTIM-00001:holds` wrote VICTIM-00001's holds key.
    keys = Keys("nr:")
    victim = keys.rate(f"app:{app_scope('VICTIM-00001')}") + ":holds"
    attacker = keys.rate(f"app:{app_scope('VICTIM-00001:holds')}")
    assert attacker != victim and ":holds" not in attacker


@given(st.text(max_size=80))
def test_every_scope_is_key_safe_and_stable(code):
    scope = app_scope(code)
    assert SAFE.fullmatch(scope)
    assert app_scope(code) == scope
    assert (scope == code) == bool(re.fullmatch(r"[A-Za-z0-9-]{1,64}", code))
