"""The shared limiter against a real Redis, with time passed in (no sleeps, no clock patching)."""

from __future__ import annotations

import itertools

import pytest
import redis

from producers.keys import Keys
from producers.rates import parse_rate, parse_rate_map
from tests.conftest import REDIS_URL
from worker.store.limiter import RateLimiter, token_id

T0 = 1_700_000_000.0
TOKEN = "secret-token-for-the-limiter-tests"
_ids = itertools.count()


def job() -> str:
    return f"job-{next(_ids)}"


@pytest.fixture
def make_limiter(redis_client: redis.Redis, key_prefix: str):
    def make(rate: str = "10/s:5", apps: str = "", token: str = TOKEN,
             client: redis.Redis | None = None) -> RateLimiter:
        return RateLimiter(client or redis_client, Keys(key_prefix), token, parse_rate(rate),
                           parse_rate_map(apps))

    return make


def send_times(limiter: RateLimiter, n: int, now: float, app: str = "APP") -> list[float]:
    """When each of `n` sends asked at `now` may go, redeeming each reservation then."""
    times = []
    for _ in range(n):
        holder = job()
        at = now + limiter.acquire(app, now, holder=holder)
        if at > now:
            at += limiter.acquire(app, at, holder=holder)  # back at its reserved slot: go
        times.append(at)
    return times


def most_in_any_window(times: list[float], window_s: float = 1.0) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + window_s)
               for i, start in enumerate(ordered))


def test_a_burst_goes_at_once_then_each_send_waits_its_own_reserved_slot(make_limiter):
    limiter = make_limiter("10/s:5")

    waits = [limiter.acquire("APP", T0, holder=job()) for _ in range(8)]

    assert waits == pytest.approx([0, 0, 0, 0, 0, 0.1, 0.2, 0.3])


def test_a_holder_that_comes_back_at_its_slot_goes_without_taking_another(make_limiter):
    limiter = make_limiter("10/s:1")
    assert limiter.acquire("APP", T0, holder="first") == 0
    assert limiter.acquire("APP", T0, holder="parked") == pytest.approx(0.1)

    assert limiter.acquire("APP", T0 + 0.05, holder="parked") == pytest.approx(0.05)
    assert limiter.acquire("APP", T0 + 0.1, holder="parked") == 0
    assert limiter.acquire("APP", T0 + 0.1, holder="next") == pytest.approx(0.1)


def test_a_slot_whose_holder_is_late_goes_to_another_send_not_to_waste(make_limiter):
    limiter = make_limiter("10/s:1")
    assert limiter.acquire("APP", T0, holder="first") == 0
    assert limiter.acquire("APP", T0, holder="parked") == pytest.approx(0.1)

    # 30 ms after the slot, the parked job is still queued: another send takes its slot.
    assert limiter.acquire("APP", T0 + 0.13, holder="fresh") == 0
    assert limiter.acquire("APP", T0 + 0.14, holder="parked") == pytest.approx(0.06)
    assert limiter.acquire("APP", T0 + 0.14, holder="next") == pytest.approx(0.16)


def test_a_slot_nobody_used_in_time_lapses_rather_than_bunch_with_later_ones(make_limiter):
    limiter = make_limiter("10/s:1")
    assert limiter.acquire("APP", T0, holder="first") == 0
    assert limiter.acquire("APP", T0, holder="parked") == pytest.approx(0.1)
    assert limiter.acquire("APP", T0, holder="second") == pytest.approx(0.2)

    # 110 ms late, more than one interval: the slot at 0.1 is gone, and the one at 0.2
    # is still its holder's (only 10 ms late): queue again.
    assert limiter.acquire("APP", T0 + 0.21, holder="parked") == pytest.approx(0.09)
    assert limiter.acquire("APP", T0 + 0.21, holder="second") == 0


def test_the_steady_rate_never_exceeds_rate_plus_burst_in_any_second(make_limiter):
    limiter = make_limiter("20/s:20")

    times = send_times(limiter, 300, T0)

    assert most_in_any_window(times) <= 40
    assert max(times) - T0 == pytest.approx((300 - 20) / 20)
    gaps = [b - a for a, b in zip(times[20:], times[21:], strict=False)]
    assert gaps == pytest.approx([0.05] * len(gaps), abs=1e-6)


def test_two_hosts_with_their_own_connections_share_one_budget(make_limiter):
    other_host = redis.Redis.from_url(REDIS_URL)
    host_a, host_b = make_limiter("10/s:4"), make_limiter("10/s:4", client=other_host)

    waits = [host.acquire("APP", T0, holder=job()) for host in (host_a, host_b) * 4]

    other_host.close()
    assert sorted(waits) == pytest.approx([0, 0, 0, 0, 0.1, 0.2, 0.3, 0.4])


def test_another_token_has_its_own_budget(make_limiter):
    mine, theirs = make_limiter("10/s:1"), make_limiter("10/s:1", token="another-token")
    assert mine.acquire("APP", T0, holder=job()) == 0

    assert theirs.acquire("APP", T0, holder=job()) == 0
    assert mine.acquire("APP", T0, holder=job()) == pytest.approx(0.1)


def test_an_application_limit_applies_on_top_of_the_token_limit(make_limiter):
    limiter = make_limiter("100/s:100", apps="SLOW1-00001=2/s:1")

    slow = [limiter.acquire("SLOW1-00001", T0, holder=job()) for _ in range(3)]
    others = [limiter.acquire("FAST1-00001", T0, holder=job()) for _ in range(99)]

    assert slow == pytest.approx([0, 0.5, 1.0])
    # The slow application's waiting sends took no token slot: the rest of the burst is
    # the others' (100 = 1 slow + 99 fast), and the next one waits one interval.
    assert others == [0] * 99
    assert limiter.acquire("FAST1-00001", T0, holder=job()) == pytest.approx(0.01)


def test_a_slow_applications_held_send_takes_its_token_slot_when_its_time_comes(make_limiter):
    limiter = make_limiter("10/s:1", apps="SLOW1-00001=1/s:1")
    assert limiter.acquire("SLOW1-00001", T0, holder="a") == 0
    assert limiter.acquire("SLOW1-00001", T0, holder="b") == pytest.approx(1.0)
    fast = send_times(limiter, 10, T0 + 0.1, app="FAST1-00001")

    assert limiter.acquire("SLOW1-00001", T0 + 1.0, holder="b") == pytest.approx(0.1)
    assert limiter.acquire("SLOW1-00001", T0 + 1.1, holder="b") == 0
    assert fast == pytest.approx([T0 + 0.1 * k for k in range(1, 11)])


def test_a_429_blocks_its_application_until_retry_after_and_halves_the_rate(make_limiter):
    limiter = make_limiter("10/s:1")
    limiter.on_throttled("HIT01-00001", 3.0, T0)

    assert limiter.acquire("HIT01-00001", T0 + 1, holder=job()) == pytest.approx(2.0)
    assert limiter.acquire("OTHER-00001", T0 + 1, holder=job()) == 0
    assert limiter.acquire("OTHER-00001", T0 + 1, holder=job()) == pytest.approx(0.2)
    rows = {row["application"]: row for row in limiter.snapshot(T0 + 1)}
    assert rows[None]["effective_per_s"] == pytest.approx(5.0)
    assert rows["HIT01-00001"]["throttled_until"] == pytest.approx(T0 + 3)
    assert rows["OTHER-00001"]["throttled_until"] is None


def test_a_slot_reserved_before_a_429_is_not_used_during_the_block(make_limiter):
    limiter = make_limiter("10/s:1")
    assert limiter.acquire("HIT01-00001", T0, holder=job()) == 0
    assert limiter.acquire("HIT01-00001", T0, holder="sleeper") == pytest.approx(0.1)

    limiter.on_throttled("HIT01-00001", 2.0, T0 + 0.05)

    assert limiter.acquire("HIT01-00001", T0 + 0.1, holder="sleeper") == pytest.approx(1.95)


def test_a_429_without_an_application_blocks_the_whole_token(make_limiter):
    limiter = make_limiter("10/s:5")
    limiter.on_throttled("", 2.0, T0)

    assert limiter.acquire("ANY01-00001", T0 + 0.5, holder=job()) == pytest.approx(1.5)
    # After the block the sends resume one interval apart (0.2 s at the halved rate).
    assert limiter.acquire("ANY01-00002", T0 + 0.5, holder=job()) == pytest.approx(1.7)


def test_429s_from_sends_in_flight_together_cut_the_rate_once(make_limiter):
    limiter = make_limiter("16/s")
    for k in range(5):
        limiter.on_throttled("HIT01-00001", 1.0, T0 + k * 0.01)
    assert limiter.snapshot(T0)[0]["factor"] == pytest.approx(0.5)

    for k in range(10):
        limiter.on_throttled("HIT01-00001", 1.0, T0 + 1 + k)
    assert limiter.snapshot(T0)[0]["factor"] == pytest.approx(1 / 16)


def test_sustained_success_raises_the_rate_back_after_a_quiet_spell(make_limiter):
    limiter = make_limiter("10/s")
    limiter.on_throttled("HIT01-00001", 1.0, T0)
    factors = []
    for k in range(1, 13):
        limiter.on_success("HIT01-00001", T0 + k)
        limiter.on_success("HIT01-00001", T0 + k + 0.5)  # at most one step per second
        factors.append(limiter.snapshot(T0 + k)[0]["factor"])

    assert factors == pytest.approx([0.5] * 4 + [0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0, 1.0])
    assert limiter.acquire("HIT01-00001", T0 + 20, holder=job()) == 0


def test_sends_that_waited_are_counted_per_application(make_limiter):
    limiter = make_limiter("10/s:1")
    for app in ("AAAAA-00001", "AAAAA-00001", "AAAAA-00001", "BBBBB-00001"):
        limiter.acquire(app, T0, holder=job())

    rows = {row["application"]: row for row in limiter.snapshot(T0)}

    assert rows[None]["waits"] == 3
    assert rows["AAAAA-00001"]["waits"] == 2
    assert rows["BBBBB-00001"]["waits"] == 1
    assert rows[None]["token"] == token_id(TOKEN)


def test_every_key_is_under_rate_with_a_ttl_and_none_holds_the_token(
        make_limiter, redis_client, key_prefix):
    limiter = make_limiter("10/s:1", apps="AAAAA-00001=1/s:1")
    for app in ("AAAAA-00001", "AAAAA-00001", "BBBBB-00001", "BBBBB-00001"):
        limiter.acquire(app, T0, holder=job())
    limiter.on_throttled("BBBBB-00001", 3.0, T0)
    limiter.on_success("BBBBB-00001", T0 + 10)

    keys = list(redis_client.scan_iter(f"{key_prefix}*"))

    # token, 2 applications, one's partial holds, the other's full holds, waits
    assert len(keys) == 6
    for key in keys:
        assert key.startswith(f"{key_prefix}rate:{{{token_id(TOKEN)}}}:".encode())
        assert redis_client.pttl(key) > 0, key
        assert not any(TOKEN.encode() in value for value in stored(redis_client, key))


def stored(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key).decode()
    if kind == "hash":
        return [b"%s=%s" % pair for pair in client.hgetall(key).items()]
    assert kind == "zset", (key, kind)
    return client.zrange(key, 0, -1)
