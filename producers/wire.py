"""The request as it goes on the wire: one JSON encoding, and the API's size limit.

Apart from `producers.validation` so that the worker, which sends what was validated at
enqueue, encodes and measures bodies without loading the request contract (marshmallow
and every schema).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: §14: a body under 10 MB (v1.3 /createMessage, SEEN [D6]; v2's limit is NOT FOUND), read
#: as 10^6-byte MB: the stricter reading. L5: no byte bound existed anywhere.
REQUEST_LIMIT_BYTES = 10_000_000
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def request_json(request: Mapping[str, Any]) -> str:
    """The body as worker.http POSTs it: compact JSON, ASCII only (non-ASCII as \\u
    escapes), so its length is its size in bytes."""
    return _ENCODER.encode(request)
