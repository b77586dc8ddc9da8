"""The `Authorization: Token <t>` check, and what of it may be recorded (never the token).

The scheme must be exactly `Token`, as documented (spec §1). RFC 7235 would allow any case,
but the emulator exists to catch client mistakes, and a careful client sends the documented form.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SCHEME = "Token"
# Schemes shown in a recorded header; anything else could itself be a pasted secret.
_SHOWN_SCHEMES = {"token", "bearer", "basic"}


@dataclass(frozen=True, slots=True)
class AuthCheck:
    authorized: bool  # the request would be let through
    token_ok: bool | None  # token == the configured one; None when none is configured
    token_sha256: str | None  # digest of the presented token; only when none is configured
    redacted: str | None  # the header value to record; None when the header was absent


def check(header: str | None, configured: str | None) -> AuthCheck:
    """Judge an Authorization header against the configured token (None: accept any)."""
    if header is None:
        return AuthCheck(False, False if configured else None, None, None)
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    well_formed = scheme == SCHEME and bool(token)
    redacted = _redact(scheme, token)
    if configured:
        ok = well_formed and hmac.compare_digest(token.encode(), configured.encode())
        return AuthCheck(ok, ok, None, redacted)
    digest = hashlib.sha256(token.encode()).hexdigest() if token else None
    return AuthCheck(well_formed, None, digest, redacted)


def _redact(scheme: str, token: str) -> str:
    if token and scheme.lower() in _SHOWN_SCHEMES:
        return f"{scheme} ***"
    return "***"
