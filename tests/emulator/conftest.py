"""Fixtures for the emulator tests: a real server on a free loopback port, real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from emulator import EmulatorClient, EmulatorServer

TOKEN = "test-token-5f2c9a"
NOTIFY_PATH = "/messaging/v2/notify"

Notify = Callable[..., requests.Response]


def valid_body(application: str = "ABCDE-12345", **extra: Any) -> dict[str, Any]:
    """A transactional request in the shape of spec §15.1 V3."""
    return {
        "transactional": {
            "application": application,
            "platforms": ["IOS"],
            "users": {"list": ["user-1"]},
            "payload": {"content": {"localized_content": {"en": {"ios": {"body": "hi"}}}}},
            "schedule": {"at": "2026-05-01T09:00:00Z"},
            **extra,
        }
    }


@pytest.fixture(name="valid_body")
def valid_body_fixture() -> Callable[..., dict[str, Any]]:
    return valid_body


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(token=TOKEN) as emu:
        yield emu


@pytest.fixture
def control(emulator: EmulatorServer) -> Iterator[EmulatorClient]:
    with EmulatorClient(emulator.url) as client:
        yield client


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def make_notify(base_url: str, session: requests.Session) -> Notify:
    def send(
        body: Any = None, *, token: str | None = TOKEN, timeout: float = 5, **kw: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Token {token}"} if token is not None else {}
        headers.update(kw.pop("headers", {}))
        payload = valid_body() if body is None else body
        if isinstance(payload, str | bytes):
            kw["data"] = payload
        else:
            kw["json"] = payload
        return session.post(base_url + NOTIFY_PATH, headers=headers, timeout=timeout, **kw)

    return send


@pytest.fixture
def notify(emulator: EmulatorServer, http: requests.Session) -> Notify:
    """POST to the notify path: `notify()` sends a valid request with the right token."""
    return make_notify(emulator.url, http)


@pytest.fixture
def open_emulator() -> Iterator[EmulatorServer]:
    """An emulator started without a token: any non-empty token is accepted."""
    with EmulatorServer() as emu:
        yield emu


@pytest.fixture
def open_notify(open_emulator: EmulatorServer, http: requests.Session) -> Notify:
    return make_notify(open_emulator.url, http)
