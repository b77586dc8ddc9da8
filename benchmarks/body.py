"""The one request every system under test POSTs (spec §15.1 V3, a typical transactional push).

`body(i)` carries a marker (`bench-<i>` as its only user) so the endpoint can time each
job's arrival; the throughput runs send `BODY` itself, byte for byte the same everywhere.
"""

from __future__ import annotations

import copy
import json
from typing import Any

# The emulator's own load generator sends the same request: one definition for both.
from emulator.bench import BODY, TOKEN

__all__ = ["BODY", "TOKEN", "body", "encode"]


def body(marker: int | None = None) -> dict[str, Any]:
    """A copy of `BODY`; with a marker, its users list is `["bench-<marker>"]`."""
    request = copy.deepcopy(BODY)
    if marker is not None:
        request["transactional"]["users"]["list"] = [f"bench-{marker}"]
    return request


def encode(request: dict[str, Any]) -> str:
    """The bytes on the wire, as notify-relay's HTTP client writes them."""
    return json.dumps(request, separators=(",", ":"))
