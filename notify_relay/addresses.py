"""Listen and client addresses: the one rule for "is this loopback" (the API's local mode,
the dashboard's, Flower's guard)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for `localhost` and any loopback IP (127.0.0.0/8, ::1); False for anything else."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
