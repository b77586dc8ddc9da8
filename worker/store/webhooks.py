"""The webhook outbox: events waiting to be POSTed, their dead letters, URLs that are gone.

Owner of `hooks:*` (producers/keys.py):

| key                  | type | content                                | bound                |
|----------------------|------|----------------------------------------|----------------------|
| `hooks:due`          | zset | event id → when it is due (ms); while  | NOTIFY_WEBHOOK_      |
|                      |      | being delivered, its lease end         |   MAX_PENDING        |
| `hooks:events`       | hash | event id → entry (state + body)        | the same             |
| `hooks:dead:index`   | zset | event id → when it died                | NOTIFY_DEAD_MAX/_TTL |
| `hooks:dead:entries` | hash | event id → dead letter                 | the same             |
| `hooks:dead:reasons` | hash | reason → how many are stored           | one per reason       |
| `hooks:gone`         | hash | URL digest → when it answered 410      | one per URL          |

Events are added by the scripts that make a job final (lua/succeed.lua, lua/bury.lua
with lua/webhooks.lua): atomically with the outcome. An entry is a JSON object (type,
job, created_at, tries, last try's status / error) + "\\n" + the body exactly as it is
POSTed and signed; its dead letter is the same with `reason` and `dead_at` first. Every
change after that is one script here, fenced by the claim's lease end.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from producers.keys import Keys
from producers.scripts import Script
from producers.settings import Settings
from worker.store.deadletters import PURGE, PURGE_BATCH


class HookStep(enum.StrEnum):
    """What becomes of an event after a delivery (worker/webhooks/ladder.py decides)."""

    DONE = "done"  # a 2xx: delivered
    RETRY = "retry"  # due again later
    DEAD = "dead"  # into the webhook dead letters


class HookDead(enum.StrEnum):
    """Why a webhook is a dead letter."""

    EXHAUSTED = "exhausted"  # every try of NOTIFY_WEBHOOK_RETRY_DELAYS failed
    GONE = "gone"  # the receiver answered 410, or had before: not sent to that URL
    OVERFLOW = "overflow"  # NOTIFY_WEBHOOK_MAX_PENDING were waiting already


HOOK_DEAD_REASONS = tuple(reason.value for reason in HookDead)

_LUA = Path(__file__).with_name("lua")
CLAIM = Script(_LUA / "hooks_claim.lua")
RECORD = Script(_LUA / "hooks_record.lua", HookStep, includes=[_LUA / "deadletters.lua"])
REPLAY = Script(_LUA / "hooks_replay.lua", includes=[_LUA / "deadletters.lua"])


@dataclass(frozen=True)
class Pending:
    """One event as stored: its delivery state and its body."""

    id: str
    state: dict[str, Any]
    body: str

    def entry(self, **changes: Any) -> str:
        return json.dumps({**self.state, **changes}, separators=(",", ":")) + "\n" + self.body


@dataclass(frozen=True)
class Claimed:
    gone: bool  # the URL answered 410 before: send none of these
    token: int  # the lease end (ms): what `record` is fenced by
    events: list[Pending]


def new_entry(event_type: str, job_id: str, created_at: float, body: str) -> str:
    """An event as the record scripts add it to the outbox (not tried yet)."""
    state = {"type": event_type, "job_id": job_id, "created_at": round(created_at, 3),
             "tries": 0, "last_try_at": None, "last_status": None, "last_error": None}
    return Pending("", state, body).entry()


def decode_entry(event_id: str, raw: bytes | str) -> Pending:
    text = raw.decode() if isinstance(raw, bytes) else raw
    head, _, body = text.partition("\n")
    return Pending(event_id, json.loads(head), body)


def url_digest(url: str) -> str:
    """A URL's name in `hooks:gone` (the URL may carry a credential: never stored)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def url_shown(url: str) -> str:
    """What logs, alerts and stats say of the URL: its origin and digest, no path or query
    (where a receiver's own token often is), no login."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/… ({url_digest(url)})"


class WebhookStore:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._redis = client
        self._keys = keys
        self._settings = settings
        self.due_key, self.events_key = keys.hooks("due"), keys.hooks("events")
        self.dead_keys = [keys.hooks("dead:index"), keys.hooks("dead:entries"),
                          keys.hooks("dead:reasons")]
        self.gone_key = keys.hooks("gone")

    @property
    def outbox_keys(self) -> list[str]:
        """What the record scripts push events through (lua/webhooks.lua `push_events`)."""
        return [self.due_key, self.events_key, *self.dead_keys]

    def claim(self, most: int, lease_s: float, url: str, now: float | None = None) -> Claimed:
        reply = CLAIM(self._redis, [self.due_key, self.events_key, self.gone_key],
                      [_ms(now), int(lease_s * 1000), most, url_digest(url)])
        gone, token, *flat = reply
        events = [decode_entry(_text(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
        return Claimed(bool(gone), int(token), events)

    def done(self, event: Pending, token: int) -> bool:
        return self._record(event, token, HookStep.DONE)[0]

    def retry(self, event: Pending, token: int, due_at: float, entry: str) -> bool:
        return self._record(event, token, HookStep.RETRY, due_ms=int(due_at * 1000),
                            entry=entry)[0]

    def bury(self, event: Pending, token: int, reason: HookDead, now: float,
             gone_url: str | None = None, **state: Any) -> tuple[bool, bool]:
        """Into the dead letters; with `gone_url`, that URL is marked gone in the same
        script. (applied, the URL is newly gone)."""
        dead = json.dumps({"reason": reason.value, "dead_at": round(now, 3), **event.state,
                           **state}, separators=(",", ":")) + "\n" + event.body
        mark = ("", "") if gone_url is None else (
            url_digest(gone_url), json.dumps({"at": now, "url": url_shown(gone_url)}))
        return self._record(event, token, HookStep.DEAD, entry=dead, now=now, gone=mark)

    def _record(self, event: Pending, token: int, step: HookStep, *, due_ms: int = 0,
                entry: str = "", now: float | None = None,
                gone: tuple[str, str] = ("", "")) -> tuple[bool, bool]:
        settings = self._settings
        keys = [self.due_key, self.events_key, *self.dead_keys, self.gone_key]
        args = [event.id, token, step.value, _ms(now), due_ms, entry,
                int(settings.dead_ttl_s * 1000), settings.dead_max, *gone]
        applied, newly_gone = RECORD(self._redis, keys, args)
        return bool(applied), bool(newly_gone)

    # --- operators' side: `notify-relay webhooks`, stats ---

    def pending(self, event_id: str) -> Pending | None:
        raw = self._redis.hget(self.events_key, event_id)
        return decode_entry(event_id, raw) if raw else None

    def dead(self, event_id: str) -> Pending | None:
        raw = self._redis.hget(self.dead_keys[1], event_id)
        return decode_entry(event_id, raw) if raw else None

    def iter_pending(self, limit: int) -> Iterator[Pending]:
        """Waiting events, the next due first (at most `limit`; 0: all)."""
        ids = self._redis.zrange(self.due_key, 0, limit - 1 if limit else -1)
        for event_id, raw in zip(ids, self._redis.hmget(self.events_key, ids) if ids else [],
                                 strict=True):
            if raw:
                yield decode_entry(_text(event_id), raw)

    def iter_dead(self, reason: str | None = None, batch: int = 500) -> Iterator[Pending]:
        """Dead letters newest first, in batches."""
        start = 0
        while ids := self._redis.zrevrange(self.dead_keys[0], start, start + batch - 1):
            for event_id, raw in zip(ids, self._redis.hmget(self.dead_keys[1], ids),
                                     strict=True):
                dead = decode_entry(_text(event_id), raw) if raw else None
                if dead and reason in (None, dead.state.get("reason")):
                    yield dead
            start += batch

    def replay(self, dead: Pending, now: float | None = None) -> int:
        """Due again at once with a fresh ladder: 1, 0 when gone meanwhile, -1 when full."""
        state = {k: v for k, v in dead.state.items() if k not in ("reason", "dead_at")}
        entry = Pending(dead.id, state, dead.body).entry(tries=0)
        return int(REPLAY(self._redis, [self.due_key, self.events_key, *self.dead_keys],
                          [dead.id, entry, _ms(now), self._settings.webhook_max_pending]))

    def purge(self, dead: list[Pending]) -> int:
        gone = 0
        for start in range(0, len(dead), PURGE_BATCH):
            gone += int(PURGE(self._redis, self.dead_keys,
                              [d.id for d in dead[start:start + PURGE_BATCH]]))
        return gone

    def resume(self, url: str) -> bool:
        """Deliver to `url` again after its 410; False if it was not marked gone."""
        return bool(self._redis.hdel(self.gone_key, url_digest(url)))

    def gone_urls(self) -> dict[str, dict[str, Any]]:
        return {_text(k): json.loads(v) for k, v in self._redis.hgetall(self.gone_key).items()}

    def snapshot(self, now: float) -> dict[str, Any]:
        """For `stats` and the exporter: backlog, next due, dead letters, gone URLs."""
        first = self._redis.zrange(self.due_key, 0, 0, withscores=True)
        counts = dict.fromkeys(HOOK_DEAD_REASONS, 0)
        for reason, count in self._redis.hgetall(self.dead_keys[2]).items():
            counts[_text(reason)] = max(0, int(count))
        url = self._settings.webhook_url
        return {
            "url": url_shown(url) if url else None,
            "backlog": int(self._redis.zcard(self.due_key)),
            "oldest_due_s": round(max(0.0, now - first[0][1] / 1000), 1) if first else None,
            "dead_letters": {"total": int(self._redis.zcard(self.dead_keys[0])),
                             "by_reason": counts},
            "gone": self.gone_urls(),
            "url_gone": bool(url) and bool(self._redis.hexists(self.gone_key,
                                                                url_digest(url))),
        }


def _ms(now: float | None) -> str | int:
    return "" if now is None else int(now * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
