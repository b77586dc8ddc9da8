"""Small helpers for integration tests: example requests and reading Redis by type."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str = "transactional", application: str | None = None) -> dict[str, Any]:
    request = json.loads((EXAMPLES / f"{name}.json").read_text())
    if application:
        kind = next(iter(request))
        request[kind]["application"] = application
    return copy.deepcopy(request)


def posts_for(received: list[dict[str, Any]], application: str) -> list[dict[str, Any]]:
    """The emulator's records of notify POSTs for one application."""
    out = []
    for record in received:
        body = record.get("body")
        if isinstance(body, dict):
            kind = body.get("segment") or body.get("transactional") or {}
            if kind.get("application") == application:
                out.append(record)
    return out
