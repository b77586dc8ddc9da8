"""Retry delays: exponential backoff with full jitter, a cap, and Retry-After."""

from __future__ import annotations

import random


def backoff_s(retries: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Delay before retry number `retries + 1`: uniform in [0, min(cap, base * 2**retries)].

    Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads a
    burst of failures out instead of retrying them in lockstep.
    """
    ceiling = min(cap_s, base_s * (2 ** min(retries, 62)))
    return rng.uniform(0.0, ceiling)


def retry_delay_s(
    retries: int,
    *,
    base_s: float,
    cap_s: float,
    rng: random.Random,
    retry_after_s: float | None = None,
) -> float:
    """The backoff, but never shorter than what the server asked for."""
    delay = backoff_s(retries, base_s=base_s, cap_s=cap_s, rng=rng)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay
