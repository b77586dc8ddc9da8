"""The dispatcher against a real Redis: pacing, priorities, fair share, limits, 429s.

Time is passed in (Redis's clock is only the default), so each test plays a few seconds
of dispatch calls in a few milliseconds and checks the slots handed out.
"""

from __future__ import annotations

import time

import pytest
import redis

from producers import Producer
from tests.conftest import REDIS_URL
from tests.integration.helpers import example, handed_out
from worker.store import Stores
from worker.store.claims import Item


@pytest.fixture
def t0() -> float:
    """The tests' "now": later than any enqueue of the test, so nothing is too late yet."""
    return time.time() + 5


@pytest.fixture
def make(settings, redis_client):
    """Stores and a producer under these settings changes (a 10/s budget by default)."""
    def build(**changes) -> tuple[Stores, Producer]:
        changed = settings.replace(**{"rate_limit": "10/s", **changes})
        return Stores.build(changed, redis_client), Producer(settings=changed)
    return build


def play(stores: Stores, t0: float, seconds: float, step_s: float = 0.05) -> list[Item]:
    """Dispatch calls every `step_s` from `t0` for `seconds`; every item handed out."""
    items: list[Item] = []
    for n in range(int(seconds / step_s)):
        items += handed_out(stores, now=t0 + n * step_s)
        stores.redis.delete(stores.keys.watch)  # as if workers had sent and recorded them
    return items


def apps_of(producer: Producer, items: list[Item]) -> list[str]:
    return [producer.outcome(i.job_id)["application"] for i in items]


def test_slots_are_one_interval_apart_and_a_burst_exists_only_when_written(make, t0):
    stores, producer = make()
    producer.enqueue_many([example()] * 20)
    slots = [i.slot_ms for i in handed_out(stores, now=t0)]
    gaps = [round(b - a) for a, b in zip(slots, slots[1:], strict=False)]
    assert gaps == [100] * (len(slots) - 1)
    assert len(slots) == 3  # only what starts within the horizon (0.25 s) is handed out

    stores, producer = make(rate_limit="10/s:5", key_prefix=stores.keys.prefix + "burst:")
    producer.enqueue_many([example()] * 20)
    slots = [i.slot_ms for i in handed_out(stores, now=t0)]
    assert slots[:5] == [slots[0]] * 5 and slots[5] > slots[0]  # five at once, then paced


def test_no_one_second_window_holds_more_than_the_limit_plus_one(make, t0):
    stores, producer = make()
    producer.enqueue_many([example()] * 200)
    slots = sorted(i.slot_ms for i in play(stores, t0, 10.0, step_s=0.037))
    assert len(slots) >= 95
    worst = max(sum(1 for s in slots if start <= s < start + 1000) for start in slots)
    assert worst <= 11


def test_urgent_goes_first_then_normal_with_bulk_keeping_its_share(make, t0):
    stores, producer = make(bulk_share=0.1)
    producer.enqueue_many([example(application="BULK-1")] * 40, priority="bulk")
    producer.enqueue_many([example(application="NORM-1")] * 40)
    urgent = producer.enqueue(example(application="URGT-1"), priority="urgent")
    items = play(stores, t0, 4.0)
    assert items[0].job_id == urgent
    apps = apps_of(producer, items[1:31])
    assert apps.count("BULK-1") == 3 and apps.count("NORM-1") == 27  # one in ten


def test_applications_of_one_priority_take_turns(make, t0):
    stores, producer = make()
    producer.enqueue_many([example(application="BUSY-1")] * 300)
    producer.enqueue_many([example(application="CALM-1")] * 5)
    apps = apps_of(producer, play(stores, t0, 1.5))[:10]
    assert apps == ["BUSY-1", "CALM-1"] * 5


def test_a_weighted_application_takes_more_turns(make, t0):
    stores, producer = make(app_weights="HEAVY-1=3")
    producer.enqueue_many([example(application="HEAVY-1")] * 40)
    producer.enqueue_many([example(application="LIGHT-1")] * 40)
    apps = apps_of(producer, play(stores, t0, 2.5))[:20]
    assert apps.count("HEAVY-1") == 15 and apps.count("LIGHT-1") == 5


def test_an_application_limit_holds_back_only_that_application(make, t0):
    stores, producer = make(app_rate_limits="SLOW-1=2/s")
    producer.enqueue_many([example(application="SLOW-1")] * 20)
    producer.enqueue_many([example(application="FAST-1")] * 40)
    items = play(stores, t0, 3.0)
    slow = [i.slot_ms for i in items if apps_of(producer, [i]) == ["SLOW-1"]]
    assert all(b - a >= 499 for a, b in zip(slow, slow[1:], strict=False))
    assert len(items) >= 28  # the token's other slots went to FAST-1


def test_a_429_holds_back_its_application_until_retry_after_and_no_other(make, t0):
    stores, producer = make()
    producer.enqueue_many([example(application="HIT-1")] * 20)
    producer.enqueue_many([example(application="OK-1")] * 20)
    stores.budget.throttled("HIT-1", block_s=2.0, now=t0)
    items = play(stores, t0, 3.0)
    hit = [i.slot_ms for i, app in zip(items, apps_of(producer, items), strict=True)
           if app == "HIT-1"]
    assert hit and min(hit) >= (t0 + 2.0) * 1000 - 1  # not one slot before Retry-After
    ok_before = [i for i, app in zip(items, apps_of(producer, items), strict=True)
                 if app == "OK-1" and i.slot_ms < (t0 + 2.0) * 1000]
    assert len(ok_before) >= 19  # the other application kept the whole budget meanwhile


def test_a_job_already_too_late_goes_out_without_a_slot(make, t0):
    stores, producer = make()
    producer.enqueue(example(), expires_in=1)
    [item] = handed_out(stores, now=t0)  # t0 is past its deadline
    assert item.slot_ms == -1
    fresh = producer.enqueue(example())
    [next_item] = handed_out(stores, now=t0)
    assert next_item.job_id == fresh
    assert next_item.slot_ms == pytest.approx(t0 * 1000, abs=1)  # the slot was not spent


def test_an_open_circuit_hands_out_one_probe_per_interval(make, redis_client, t0):
    stores, producer = make(circuit_probe_interval_s=1.0)
    producer.enqueue_many([example()] * 10)
    stores.circuit.trip("401", now=t0)
    assert handed_out(stores, now=t0 + 0.5) == []
    [probe] = handed_out(stores, now=t0 + 1.0)
    assert probe.probe
    assert handed_out(stores, now=t0 + 1.5) == []


def test_jobs_handed_out_and_not_recorded_are_capped(make, t0):
    stores, producer = make(rate_limit="100000/s")
    producer.enqueue_many([example()] * 3000)
    first = handed_out(stores, now=t0)
    second = handed_out(stores, now=t0 + 0.001)
    assert len(first) == 512 and len(first) + len(second) <= stores.waiting._cap


def test_two_hosts_with_their_own_connections_share_one_budget(make, settings, t0):
    stores, producer = make()
    other = Stores.build(stores.settings, redis.Redis.from_url(REDIS_URL))
    producer.enqueue_many([example()] * 30)
    slots = [i.slot_ms for i in handed_out(stores, now=t0)]
    slots += [i.slot_ms for i in handed_out(other, now=t0 + 0.2)]
    assert len(set(slots)) == len(slots) and sorted(slots) == slots


def test_every_key_has_a_ttl_or_a_bound_and_none_holds_the_token(make, redis_client, settings,
                                                                t0):
    stores, producer = make()
    producer.enqueue_many([example()] * 5)
    stores.budget.throttled("ABCDE-12345", block_s=1.0, now=t0)
    play(stores, t0, 1.0)
    for key in redis_client.scan_iter(f"{stores.keys.prefix}rate:*"):
        assert settings.api_token not in key.decode()
        assert redis_client.pttl(key) > 0 or key.endswith(b":held")
