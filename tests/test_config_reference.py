"""The configuration reference cannot drift from the code: README and .env.example vs SPECS."""

from __future__ import annotations

import re

from click.testing import CliRunner

from notify_relay.cli import cli
from notify_relay.cli.config import env_example, markdown_table
from producers.settings import SPECS
from tests.conftest import ROOT

README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"


def section(markdown: str, title: str) -> str:
    """The text of one `## title` section, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def first_table(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def test_the_readme_configuration_table_is_the_one_generated_from_specs():
    table = first_table(section(README.read_text(), "Configuration"))
    assert table == markdown_table(), (
        "README's configuration table differs from SPECS: paste `notify-relay config` into "
        "its '## Configuration' section")


def test_the_table_has_one_row_per_variable_in_specs_order():
    rows = markdown_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [spec.env for spec in SPECS]


def test_env_example_lists_every_variable_with_its_default():
    text = ENV_EXAMPLE.read_text()
    assert env_example() in text, (
        ".env.example is out of date: replace its settings block with "
        "`notify-relay config --format env`")
    for spec in SPECS:
        assert f"\n# {spec.env}={spec.default}\n" in text + "\n"


def test_env_example_sets_nothing_by_default():
    # Copied as is, it changes no default: every assignment is commented out.
    assignments = [line for line in ENV_EXAMPLE.read_text().splitlines()
                   if line.strip() and not line.lstrip().startswith("#")]
    assert assignments == []


def test_notify_relay_config_prints_the_reference():
    runner = CliRunner()
    table = runner.invoke(cli, ["config"])
    env = runner.invoke(cli, ["config", "--format", "env"])
    assert (table.exit_code, env.exit_code) == (0, 0)
    assert table.output == markdown_table() + "\n"
    assert env.output == env_example() + "\n"
