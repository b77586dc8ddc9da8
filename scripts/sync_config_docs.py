"""Rewrite the README's configuration table and .env.example's settings block from SPECS.

    .venv/bin/python scripts/sync_config_docs.py

tests/test_config_reference.py fails when either is out of date; this is the fix it asks for.
"""

from __future__ import annotations

import re
from pathlib import Path

from notify_relay.cli.config import ENV_HEADER, env_example, markdown_table

ROOT = Path(__file__).resolve().parent.parent


def sync_readme(path: Path) -> None:
    text = path.read_text()
    section = re.search(r"^## Configuration\n.*?(?=^## |\Z)", text, re.M | re.S)
    assert section, "README has no '## Configuration' section"
    body = section.group(0)
    table = re.search(r"^\|.*?(?=^[^|]|\Z)", body, re.M | re.S)
    assert table, "the Configuration section has no table"
    new_body = body[:table.start()] + markdown_table() + "\n" + body[table.end():]
    path.write_text(text[:section.start()] + new_body + text[section.end():])


def sync_env_example(path: Path) -> None:
    text = path.read_text()
    start = text.index(ENV_HEADER)
    path.write_text(text[:start] + env_example() + "\n")


if __name__ == "__main__":
    sync_readme(ROOT / "README.md")
    sync_env_example(ROOT / ".env.example")
