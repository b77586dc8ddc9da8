"""The decision after one webhook try (worker/webhooks/ladder.py), row by row."""

from __future__ import annotations

import random

import pytest

from worker.store.webhooks import HookDead, HookStep
from worker.webhooks.ladder import JITTER, after_try

LADDER = (5.0, 300.0, 1800.0)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_a_2xx_is_delivered(status):
    assert after_try(status, 1, LADDER, random.Random(1)).step is HookStep.DONE


def test_a_410_is_a_dead_letter_gone_whatever_the_ladder_left():
    after = after_try(410, 1, LADDER, random.Random(1))
    assert (after.step, after.reason) == (HookStep.DEAD, HookDead.GONE)


@pytest.mark.parametrize("status", [None, 301, 302, 400, 404, 429, 500, 502, 503, 504])
def test_any_other_answer_waits_for_the_ladders_next_step_with_up_to_ten_percent_jitter(status):
    for tries, wait in enumerate(LADDER, start=1):
        after = after_try(status, tries, LADDER, random.Random(tries))
        assert after.step is HookStep.RETRY
        assert wait <= after.due_in_s <= wait * (1 + JITTER)


def test_past_the_last_step_the_webhook_is_exhausted():
    after = after_try(503, len(LADDER) + 1, LADDER, random.Random(1))
    assert (after.step, after.reason) == (HookStep.DEAD, HookDead.EXHAUSTED)


def test_a_longer_retry_after_wins_up_to_the_ladders_longest_wait():
    assert after_try(503, 1, LADDER, random.Random(1), retry_after_s=60).due_in_s == 60
    assert after_try(429, 1, LADDER, random.Random(1), retry_after_s=10**9).due_in_s == 1800
    assert after_try(503, 2, LADDER, random.Random(1), retry_after_s=1).due_in_s >= 300


def test_the_default_ladder_is_svixs_eight_tries_over_about_a_day():
    from producers.settings import Settings

    ladder = Settings().webhook_ladder_s
    assert ladder == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert 24 * 3600 < sum(ladder) < 30 * 3600
