"""The shared rate limiter: one budget per API token, kept in Redis, adaptive to 429s.

Owner of the `rate:*` keys. Every worker process on every host asks the same Redis
script before each send, so the limit holds however many workers run.

Algorithm: GCRA ("theoretical arrival time", a leaky bucket kept as one timestamp) per
scope, with reservations. The token's scope always applies; an application named in
NOTIFY_RATE_LIMITS has its own scope on top. `acquire` answers with the exact wait and,
when it is > 0, has reserved that slot for the caller's job id: the job calling again
(after sleeping, after being parked and moved back, or a script call the Redis client
retried) redeems it instead of taking another one. Nobody else gets the slot while its
job is on time; a parked job comes back through the FIFO queue, behind whatever waits
there, so a slot whose job is late is used by another send of its application rather
than wasted (never more than max(50 ms, one interval) late, so sends do not bunch).
A job held back only by its application's own limit (or by a 429 for its application)
reserves no token slot until its time comes, so it never holds other applications back.
The scripts are in worker/store/lua/.

Adaptive: a 429 (or RESOURCE_EXHAUSTED) halves the token's rate (at most once per
second, down to 1/16) and blocks its scope (the application, or the whole token when
the request had none) until Retry-After; after 5 s without a 429, each second with a
success gives back a tenth of the configured rate, up to all of it.

Keys, all under one Redis Cluster hash tag per token (the first 16 hex digits of the
token's sha256; the token itself never reaches Redis), each with a TTL:

| key                            | type | holds                                      |
|--------------------------------|------|--------------------------------------------|
| `rate:{<id>}:token`            | hash | tat, until, factor, cut_at, hit_at, raised_at |
| `rate:{<id>}:app:<code>`       | hash | tat (own limit only), until                |
| `rate:{<id>}:app:<code>:holds` | zset | job id -> slot reserved in both scopes (ms) |
| `rate:{<id>}:app:<code>:partial` | zset | job id -> slot reserved in the app's only |
| `rate:{<id>}:waits`            | hash | application ("" = none) -> sends that waited |

Clocks: times are passed in (`now`, epoch seconds), so hosts need NTP-synchronised
clocks, as the retry park already does.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis

from producers.keys import Keys
from producers.rates import Rate, parse_rate, parse_rate_map
from producers.scripts import Script
from producers.settings import Settings

#: A 429 multiplies the token's rate by this ...
CUT_FACTOR = 0.5
#: ... once per this many seconds (the sends in flight together are one signal) ...
CUT_GUARD_S = 1.0
#: ... and never below this fraction of the configured rate.
MIN_FACTOR = 1 / 16
#: With no 429 for this long, successes raise the rate again ...
QUIET_S = 5.0
#: ... by this fraction of the configured rate ...
RAISE_STEP = 0.1
#: ... at most once per this many seconds.
RAISE_EVERY_S = 1.0
#: A 429 without Retry-After blocks its scope this long.
DEFAULT_BLOCK_S = 1.0
#: A reserved slot may be used this late (or one interval, if longer); later, it lapses.
LATE_TOLERANCE_S = 0.05
#: A holder this late leaves its slot to another send of its application.
STEAL_AFTER_S = 0.02
#: Limiter state outlives its last reservation by this much (the adaptive factor too).
STATE_TTL_S = 600.0
#: A reservation nobody came back for is forgotten after this.
HOLD_KEEP_S = 60.0
#: The wait counters live this long after their last increment.
WAITS_TTL_S = 86400.0

_LUA = Path(__file__).with_name("lua")
ACQUIRE = Script(_LUA / "ratelimit_acquire.lua")
THROTTLED = Script(_LUA / "ratelimit_throttled.lua")
SUCCESS = Script(_LUA / "ratelimit_success.lua")


def token_id(api_token: str) -> str:
    """What identifies a token in Redis: never the token, a short hash of it."""
    return hashlib.sha256(api_token.encode()).hexdigest()[:16]


def _ms(seconds: float) -> str:
    return repr(seconds * 1000.0)


class RateLimiter:
    """The limit of one API token (and its applications), shared through Redis.

    Thread-safe: it keeps no state of its own besides the last adaptive factor seen.
    """

    def __init__(self, client: redis.Redis, keys: Keys, api_token: str, rate: Rate,
                 app_rates: Mapping[str, Rate] | None = None) -> None:
        self._redis = client
        self._keys = keys
        self.token_id = token_id(api_token)
        self.rate = rate
        self.app_rates = dict(app_rates or {})
        self._factor = 1.0  # last seen; on_success skips Redis while it is 1

    @classmethod
    def from_settings(cls, client: redis.Redis, keys: Keys, settings: Settings) -> RateLimiter:
        return cls(client, keys, settings.api_token, parse_rate(settings.rate_limit),
                   parse_rate_map(settings.app_rate_limits))

    def acquire(self, application: str, now: float, *, holder: str) -> float:
        """Seconds to wait before this send may go; 0.0 means go now (the slot is taken).

        A wait > 0 is a reservation held for `holder` (the job id): call again with the
        same holder at or after that time (having slept, or been parked and moved back)
        and the answer is 0.0 without a second slot being taken. The answer may also be
        a further wait, when the first covered only the application's own limit, or a
        429 since blocked the scope, or the holder came back too late to use its slot.
        """
        keys, args = self._acquire_call(application, now, holder)
        return self.parse_acquire(ACQUIRE(self._redis, keys, args))

    def queue_acquire(self, pipe: redis.client.Pipeline, application: str, now: float, *,
                      holder: str) -> None:
        """`acquire` on a pipeline (read the reply with `parse_acquire`), for sending the
        claim and the limiter's answer in one round trip. A NOSCRIPT re-run asks again with
        the same holder: the same reservation (producers/scripts.py)."""
        ACQUIRE.queue(pipe, *self._acquire_call(application, now, holder))

    def parse_acquire(self, reply: list[bytes]) -> float:
        wait_ms, factor = reply
        self._factor = float(factor)
        return float(wait_ms) / 1000.0

    def _acquire_call(self, application: str, now: float,
                      holder: str) -> tuple[list[str], list[Any]]:
        if not holder:
            raise ValueError("acquire needs a holder (the job id) to keep its reservation")
        app = self.app_rates.get(application)
        app_key = self._app_key(application)
        keys = [self._token_key, app_key, f"{app_key}:holds", f"{app_key}:partial",
                self._key("waits")]
        args = [_ms(now), holder, self.rate.per_second, self.rate.burst,
                app.per_second if app else 0, app.burst if app else 1, application,
                _ms(STATE_TTL_S), _ms(HOLD_KEEP_S), _ms(LATE_TOLERANCE_S), _ms(WAITS_TTL_S),
                _ms(STEAL_AFTER_S)]
        return keys, args

    def on_throttled(self, application: str, retry_after_s: float | None, now: float) -> None:
        """The endpoint answered 429 for `application` ("" = no application context).

        No send of that scope goes before Retry-After (DEFAULT_BLOCK_S without one), and
        the token's rate is cut, for every application, until successes raise it again.
        """
        block_s = retry_after_s if retry_after_s and retry_after_s > 0 else DEFAULT_BLOCK_S
        rate = self.app_rates.get(application) if application else self.rate
        scope_key = self._app_key(application) if application else self._token_key
        args = [_ms(now), _ms(now + block_s), rate.per_second if rate else 0,
                rate.burst if rate else 1, CUT_FACTOR, MIN_FACTOR, _ms(CUT_GUARD_S),
                _ms(STATE_TTL_S), application, _ms(WAITS_TTL_S)]
        factor, _ = THROTTLED(self._redis, [self._token_key, scope_key, self._key("waits")],
                              args)
        self._factor = float(factor)

    def on_success(self, application: str, now: float) -> None:
        """A send succeeded: the token's rate may climb back (no Redis call at full rate)."""
        if self._factor >= 1.0:
            return
        args = [_ms(now), _ms(QUIET_S), _ms(RAISE_EVERY_S), RAISE_STEP, _ms(STATE_TTL_S)]
        self._factor = float(SUCCESS(self._redis, [self._token_key], args))

    def snapshot(self, now: float | None = None) -> list[dict[str, Any]]:
        """The limiter as `notify-relay stats` shows it: one dict per scope, token first.

        Applications listed: those with their own limit, and any that waited or got a
        429 recently. Each dict:

            {"scope": "token" | "application",
             "token": "<16 hex: sha256 of the token>",
             "application": None | "<code>",
             "configured_per_s": float | None,  # None: no limit of its own
             "effective_per_s": float | None,   # configured x the adaptive factor
             "burst": int | None,
             "factor": float,                   # 1.0 = no 429 lately (the token's)
             "throttled_until": float | None,   # epoch s; None when not blocked now
             "waits": int}                      # sends that had to wait (24 h counter)
        """
        now = time.time() if now is None else now
        token = self._hash(self._token_key)
        waits = {k.decode(): int(v) for k, v in self._redis.hgetall(self._key("waits")).items()}
        factor = float(token.get("factor", 1.0))
        rows = [self._row(None, self.rate, token, sum(waits.values()), factor, now)]
        for app in sorted(set(self.app_rates) | set(waits) - {""}):
            state = self._hash(self._app_key(app))
            rows.append(self._row(app, self.app_rates.get(app), state, waits.get(app, 0),
                                  factor, now))
        return rows

    def _row(self, application: str | None, rate: Rate | None, state: dict[str, float],
             waits: int, factor: float, now: float) -> dict[str, Any]:
        until = state.get("until", 0.0) / 1000.0
        return {
            "scope": "token" if application is None else "application",
            "token": self.token_id,
            "application": application,
            "configured_per_s": rate.per_second if rate else None,
            "effective_per_s": rate.per_second * factor if rate else None,
            "burst": rate.burst if rate else None,
            "factor": factor,
            "throttled_until": until if until > now else None,
            "waits": waits,
        }

    def _hash(self, key: str) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self._redis.hgetall(key).items()}

    def _key(self, part: str) -> str:
        # The hash tag keeps all of one token's keys in one Cluster slot (one script).
        return self._keys.rate(f"{{{self.token_id}}}:{part}")

    @property
    def _token_key(self) -> str:
        return self._key("token")

    def _app_key(self, application: str) -> str:
        return self._key(f"app:{application}")
