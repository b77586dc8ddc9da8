"""Helpers shared by the CLI commands: settings loading, JSON output."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from notify_relay.cli.errors import SETTINGS_KEY
from producers.settings import Settings


def load_settings() -> Settings:
    """Settings from the environment; a bad variable raises `SettingsError` (exit 2).

    They are also left in the click context, so an error can name the Redis endpoint.
    """
    settings = Settings.from_env(os.environ)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[SETTINGS_KEY] = settings
    return settings


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
