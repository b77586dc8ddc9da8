"""Helpers shared by the CLI commands: settings loading, JSON input, JSON output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
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


def read_requests(stream: IO[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for a JSON object file or a JSON Lines file.

    A line that is not JSON yields a `click.ClickException`-worthy ValueError value
    so the caller can report it against its line number.
    """
    text = stream.read()
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            yield 1, json.loads(stripped)
            return
        except json.JSONDecodeError:
            pass  # not one object: JSON Lines
    # split on "\n" only: str.splitlines() also breaks on U+2028 and U+0085, which
    # JSON allows raw inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, ValueError(f"not valid JSON: {exc.msg} (column {exc.colno})")


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
