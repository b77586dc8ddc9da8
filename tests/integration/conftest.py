"""Fixtures of the integration tests beyond tests/conftest.py: a Flower process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from notify_relay.cli.ops import command_argv
from notify_relay.processes import Service, free_port, wait_until
from producers.settings import Settings
from tests.conftest import ROOT
from tests.integration.flower_api import LOGIN, Flower, answers


@pytest.fixture
def flower(settings: Settings, tmp_path: Path) -> Iterator[Flower]:
    """`notify-relay flower` on a free loopback port, with a login, on the test's broker."""
    port = free_port()
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT),
           "FLOWER_BASIC_AUTH": ":".join(LOGIN)}
    argv = command_argv("flower", f"--port={port}", "--address=127.0.0.1")
    service = Service("flower", argv, env, tmp_path / "logs")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url + "/healthcheck") or not service.alive(), 30, "Flower")
        assert service.alive(), service.log_text()[-2000:]
        yield Flower(url, service)
    finally:
        service.stop()
