"""The webhook outbox's scripts on a real Redis (worker/store/webhooks.py): events join
it with the outcome, leases, fencing, the bound, dead letters, replay, purge, 410."""

from __future__ import annotations

import time

import pytest

from producers.outcomes import Attempt
from tests.integration.helpers import example, handed_out
from worker.store import Stores
from worker.store.webhooks import HookDead, new_entry

URL = "https://hooks.example.com/in?token=receiver-secret"


def attempt(message_code: str = "MC") -> Attempt:
    return Attempt(number=1, started_at=time.time(), duration_ms=1.0, outcome="success",
                   http_status=200, message_code=message_code)


def event(n: int) -> tuple[str, str]:
    return f"msg_{n}", new_entry("notification.succeeded", f"job-{n}", 1.0, f'{{"n":{n}}}')


def succeed_with(stores: Stores, producer, events) -> str:
    job_id = producer.enqueue(example())
    [item] = handed_out(stores)
    claim = stores.claims.claim(item, owner="w", lease_s=30)
    stores.claims.succeed(claim.job, "w", attempt(), events=events)
    return job_id


def test_events_join_the_outbox_with_the_outcome_and_not_when_the_claim_had_ended(
        stores, producer):
    succeed_with(stores, producer, [event(1), event(2)])
    assert [e.id for e in stores.webhooks.iter_pending(0)] == ["msg_1", "msg_2"]
    job_id = producer.enqueue(example())
    [item] = handed_out(stores)
    claim = stores.claims.claim(item, owner="w", lease_s=30)
    stores.claims.succeed(claim.job, "someone-else", attempt(), events=[event(3)])  # late
    assert stores.webhooks.pending("msg_3") is None
    assert producer.outcome(job_id)["status"] == "sending"


def test_a_claimed_event_is_leased_and_only_its_claim_records_it(stores, producer):
    succeed_with(stores, producer, [event(1)])
    now = time.time()
    first = stores.webhooks.claim(5, lease_s=10, url=URL, now=now)
    assert [e.id for e in first.events] == ["msg_1"] and not first.gone
    assert stores.webhooks.claim(5, lease_s=10, url=URL, now=now + 1).events == []
    second = stores.webhooks.claim(5, lease_s=10, url=URL, now=now + 11)  # lease ran out
    [pending] = second.events
    assert not stores.webhooks.done(pending, first.token)  # the first holder is late
    assert stores.webhooks.done(pending, second.token)
    assert stores.webhooks.snapshot(now)["backlog"] == 0


def test_a_retry_keeps_the_body_and_the_id_and_is_due_later(stores, producer):
    succeed_with(stores, producer, [event(1)])
    now = time.time()
    claimed = stores.webhooks.claim(1, lease_s=10, url=URL, now=now)
    [pending] = claimed.events
    assert stores.webhooks.retry(pending, claimed.token, now + 5,
                                 pending.entry(tries=1, last_status=503))
    assert stores.webhooks.claim(1, lease_s=10, url=URL, now=now + 4).events == []
    [again] = stores.webhooks.claim(1, lease_s=10, url=URL, now=now + 5).events
    assert (again.id, again.body, again.state["tries"]) == ("msg_1", '{"n":1}', 1)


def test_past_the_bound_an_event_goes_straight_to_the_dead_letters_as_overflow(
        settings, redis_client, producer):
    stores = Stores.build(settings.replace(webhook_max_pending=1), redis_client)
    succeed_with(stores, producer, [event(1), event(2)])
    assert [e.id for e in stores.webhooks.iter_pending(0)] == ["msg_1"]
    [dead] = stores.webhooks.iter_dead()
    assert (dead.id, dead.state["reason"], dead.body) == ("msg_2", "overflow", '{"n":2}')
    assert stores.webhooks.replay(dead) == -1  # still full: refused, kept
    assert stores.webhooks.dead("msg_2") is not None


def test_a_dead_letter_replays_with_a_fresh_ladder_and_the_same_id_and_purges(stores, producer):
    succeed_with(stores, producer, [event(1), event(2)])
    now = time.time()
    claimed = stores.webhooks.claim(2, lease_s=10, url=URL, now=now)
    for pending in claimed.events:
        stores.webhooks.bury(pending, claimed.token, HookDead.EXHAUSTED, now, tries=8)
    counts = stores.webhooks.snapshot(now)["dead_letters"]
    assert counts == {"total": 2, "by_reason": {"exhausted": 2, "gone": 0, "overflow": 0}}
    one, other = stores.webhooks.iter_dead()
    assert stores.webhooks.replay(one) == 1 and stores.webhooks.replay(one) == 0
    [back] = stores.webhooks.iter_pending(0)
    assert (back.id, back.state["tries"], "reason" in back.state) == (one.id, 0, False)
    assert stores.webhooks.purge([other]) == 1
    assert stores.webhooks.snapshot(now)["dead_letters"]["total"] == 0


def test_a_410_marks_the_url_gone_once_and_claims_then_say_so_until_resumed(stores, producer):
    succeed_with(stores, producer, [event(1), event(2)])
    now = time.time()
    claimed = stores.webhooks.claim(1, lease_s=10, url=URL, now=now)
    [pending] = claimed.events
    assert stores.webhooks.bury(pending, claimed.token, HookDead.GONE, now, gone_url=URL) == (
        True, True)
    after = stores.webhooks.claim(1, lease_s=10, url=URL, now=now)
    assert after.gone and [e.id for e in after.events] == ["msg_2"]
    assert stores.webhooks.bury(after.events[0], after.token, HookDead.GONE, now,
                                gone_url=URL) == (True, False)
    [shown] = stores.webhooks.gone_urls().values()
    assert "receiver-secret" not in str(shown) and "/in" not in shown["url"]
    assert stores.webhooks.resume(URL) and not stores.webhooks.resume(URL)
    assert not stores.webhooks.claim(1, lease_s=10, url=URL, now=now).gone


@pytest.mark.parametrize("bad_token", [0, 1])
def test_an_unknown_token_changes_nothing(stores, producer, bad_token):
    succeed_with(stores, producer, [event(1)])
    claimed = stores.webhooks.claim(1, lease_s=10, url=URL)
    assert not stores.webhooks.done(claimed.events[0], bad_token)
    assert stores.webhooks.pending("msg_1") is not None
