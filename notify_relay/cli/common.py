"""Helpers shared by the CLI commands: settings loading, JSON output."""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

import click

from producers.settings import Settings, SettingsError


class ConfigurationError(click.ClickException):
    """A bad or missing setting: one line on stderr, exit 2, the same line the worker prints.

    Not a `click.UsageError`: its "Usage: ..." preamble would point at the command line
    when the fault is in the environment.
    """

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"notify-relay: configuration error: {self.message}", err=True)


def load_settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        raise ConfigurationError(str(exc)) from None


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
