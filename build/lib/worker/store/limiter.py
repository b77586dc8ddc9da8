"""The shared send budget: one rate per API token, kept in Redis, adaptive to 429s.

Owner of the `rate:*` keys. The budget is spent by the dispatcher (waiting.py), which
hands jobs out with a send slot each, and by a claim that comes too late for its slot
(claims.py: it takes a fresh one); the GCRA arithmetic is `lua/gcra.lua`, included by
both. So the limit holds however many workers run on however many hosts: no 1-second
window holds more than `rate + 1` sends (`N/s` means N; a burst only when written,
`20/s:40`). After an idle spell the next sends go at once, up to the burst (1 unless
written), then at the rate.

Scopes: the token's, and an application's when NOTIFY_RATE_LIMITS names it or a 429 came
for it. A 429 holds back its own scope only: until Retry-After (clamped by the caller to
NOTIFY_BACKOFF_MAX), at a cut rate that climbs back by itself after a quiet spell. Other
applications keep their pace, and the token's slots they do not use go to the others.

Keys, all under one hash tag per token (16 hex digits of its SHA-256; the token itself
never reaches Redis), each with a TTL:

| key                         | type | holds                                       |
|-----------------------------|------|---------------------------------------------|
| `rate:{<id>}:token`         | hash | tat (next slot, ms), until, factor, hit_at, cut_at |
| `rate:{<id>}:app:<scope>`   | hash | the same, for one application               |
| `rate:{<id>}:held`          | hash | scopes that have state (a 429 or a limit)   |

Clocks: every time here is Redis's own (`TIME`, in the scripts), so hosts whose clocks
disagree still share one pace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis

from producers.keys import Keys, app_scope
from producers.rates import Rate, parse_rate, parse_rate_map, parse_weights
from producers.scripts import Script
from producers.settings import Settings

#: A 429 multiplies its scope's rate by this ...
CUT_FACTOR = 0.5
#: ... once per this many seconds (the sends in flight together are one signal) ...
CUT_GUARD_S = 1.0
#: ... and never below this fraction of the configured rate.
MIN_FACTOR = 1 / 16
#: With no 429 for this long, the rate climbs back ...
QUIET_S = 5.0
#: ... by this fraction of the configured rate ...
RAISE_STEP = 0.1
#: ... per this many seconds.
RAISE_EVERY_S = 1.0
#: A 429 without Retry-After holds its scope back this long.
DEFAULT_BLOCK_S = 1.0
#: Limiter state outlives its last slot by this much (the adaptive factor too).
STATE_TTL_S = 600.0
#: With the queue full of unclaimed jobs, the dispatcher looks again after this.
FULL_RETRY_S = 0.02

LIMITER_NUMBERS = {"LIMITER": {
    "CUT": CUT_FACTOR, "CUT_GUARD_MS": CUT_GUARD_S * 1000, "MIN_FACTOR": MIN_FACTOR,
    "QUIET_MS": QUIET_S * 1000, "RAISE_STEP": RAISE_STEP, "RAISE_EVERY_MS": RAISE_EVERY_S * 1000,
    "STATE_TTL_MS": STATE_TTL_S * 1000, "FULL_RETRY_MS": FULL_RETRY_S * 1000,
}}

_LUA = Path(__file__).with_name("lua")
THROTTLED = Script(_LUA / "throttled.lua", numbers=LIMITER_NUMBERS, includes=[_LUA / "gcra.lua"])


def token_id(api_token: str) -> str:
    """What identifies a token in Redis: never the token, a short hash of it."""
    return hashlib.sha256(api_token.encode()).hexdigest()[:16]


class Budget:
    """The limits of one API token and its applications, and their state in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, api_token: str, rate: Rate,
                 app_rates: Mapping[str, Rate] | None = None,
                 weights: Mapping[str, int] | None = None) -> None:
        self._redis = client
        self.token_id = token_id(api_token)
        self.rate = rate
        self.app_rates = dict(app_rates or {})
        self.weights = dict(weights or {})
        self.key_prefix = keys.rate(f"{{{self.token_id}}}:")
        self.limits_json = _limits_json(self.app_rates, self.weights)

    @classmethod
    def from_settings(cls, client: redis.Redis, keys: Keys, settings: Settings) -> Budget:
        return cls(client, keys, settings.api_token, parse_rate(settings.rate_limit),
                   parse_rate_map(settings.app_rate_limits), parse_weights(settings.app_weights))

    @property
    def token_key(self) -> str:
        return self.key_prefix + "token"

    @property
    def held_key(self) -> str:
        return self.key_prefix + "held"

    def app_key(self, application: str) -> str:
        return self.key_prefix + "app:" + app_scope(application)

    @property
    def interval_s(self) -> float:
        """The time between two sends at the full rate."""
        return 1.0 / self.rate.per_second

    @property
    def late_ms(self) -> float:
        """A send this late for its slot takes a fresh one: less than one interval, so a
        late send never makes a 1-second window hold more than rate + 1 (gcra.lua)."""
        return self.interval_s * 1000 / 2

    def throttled(self, application: str, block_s: float,
                  now: float | None = None) -> tuple[float, float]:
        """A 429 for `application`: hold its scope back `block_s`, cut its rate.

        Returns (its rate factor now, held until: epoch s)."""
        factor, until = THROTTLED(self._redis, [self.app_key(application), self.held_key],
                                  ["" if now is None else int(now * 1000), int(block_s * 1000),
                                   app_scope(application)])
        return float(factor), float(until) / 1000

    def snapshot(self, applications: Mapping[str, str], now: float) -> list[dict[str, Any]]:
        """The budget as `notify-relay stats` shows it: one dict per scope, token first.

        `applications`: scope → code of those worth listing (with own limits, held, or
        waiting). Each: scope, application, configured_per_s, effective_per_s, burst,
        factor, throttled_until (epoch s, or None)."""
        rows = [self._row(None, self.rate, self._state(self.token_key), now)]
        held = {k.decode() for k in self._redis.hkeys(self.held_key)}
        listed = {app_scope(code): code for code in self.app_rates} | {
            scope: applications.get(scope, scope) for scope in held}
        for scope, code in sorted(listed.items()):
            rows.append(self._row(code, self.app_rates.get(code), self._state(
                self.key_prefix + "app:" + scope), now))
        return rows

    def _state(self, key: str) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self._redis.hgetall(key).items()}

    def _row(self, application: str | None, rate: Rate | None, state: dict[str, float],
             now: float) -> dict[str, Any]:
        factor = _recovered(state, now * 1000)
        until = state.get("until", 0.0) / 1000
        shown = rate or (self.rate if factor < 1 else None)
        return {
            "scope": "token" if application is None else "application",
            "token": self.token_id,
            "application": application,
            "configured_per_s": rate.per_second if rate else None,
            "effective_per_s": shown.per_second * factor if shown else None,
            "burst": rate.burst if rate else None,
            "factor": factor,
            "throttled_until": until if until > now else None,
        }


def _recovered(state: dict[str, float], now_ms: float) -> float:
    """gcra.lua's `recovered`: the factor a scope is at now, after its climb back."""
    factor = state.get("factor", 1.0)
    if factor >= 1:
        return 1.0
    quiet_since = state.get("hit_at", 0.0) + QUIET_S * 1000
    if now_ms <= quiet_since:
        return factor
    return min(1.0, factor + (now_ms - quiet_since) // (RAISE_EVERY_S * 1000) * RAISE_STEP)


def _limits_json(app_rates: Mapping[str, Rate], weights: Mapping[str, int]) -> str:
    """The dispatcher's table of per-application limits: {scope: [rate/s, burst, weight]}."""
    table: dict[str, list[float]] = {}
    for code in set(app_rates) | set(weights):
        rate = app_rates.get(code)
        table[app_scope(code)] = [rate.per_second if rate else 0, rate.burst if rate else 1,
                                  weights.get(code, 1)]
    return json.dumps(table) if table else "{}"
