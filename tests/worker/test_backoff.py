"""Backoff is a pure function: exponential ceiling, full jitter, cap, Retry-After floor."""

from __future__ import annotations

import random

from worker.backoff import backoff_s, retry_delay_s


def test_delays_stay_under_an_exponential_ceiling_and_the_cap():
    rng = random.Random(7)
    for retries in range(12):
        ceiling = min(30.0, 0.5 * 2**retries)
        delays = [backoff_s(retries, base_s=0.5, cap_s=30.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # full jitter uses the whole range


def test_jitter_spreads_simultaneous_failures_apart():
    rng = random.Random(1)
    delays = {round(backoff_s(5, base_s=1.0, cap_s=60.0, rng=rng), 3) for _ in range(50)}
    assert len(delays) > 45


def test_a_retry_never_comes_before_retry_after():
    rng = random.Random(3)
    for _ in range(100):
        assert retry_delay_s(0, base_s=0.1, cap_s=1.0, rng=rng, retry_after_s=4.0) >= 4.0


def test_huge_attempt_numbers_do_not_overflow():
    assert backoff_s(10_000, base_s=1.0, cap_s=5.0, rng=random.Random(0)) <= 5.0
