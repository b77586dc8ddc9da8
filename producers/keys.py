"""Every Redis key notify-relay writes, built in one place under one prefix.

Per-job keys carry the job id as a hash tag (`{...}`). Each family has exactly one owning
module, named below; no other module writes it, except where a script must write two
families at once to be atomic (noted). Scripts build per-job and per-application key
names from the same rules (`producers/lua/common.lua`, `worker/store/lua/records.lua`),
so notify-relay needs one Redis node (or a Sentinel-managed primary), as kombu's Redis
transport does anyway: not a Cluster.

| family                     | type   | owner                      | bound                      |
|----------------------------|--------|----------------------------|----------------------------|
| `{job}:outcome`            | hash/string | worker/store/claims.py (+) | TTL NOTIFY_OUTCOME_TTL |
| `idem:{key}`               | string | producers/producer.py      | TTL NOTIFY_IDEMPOTENCY_WINDOW |
| `wait:<prio>:<scope>`      | list   | worker/store/waiting.py (*) | the jobs waiting           |
| `ring:<prio>`              | list   | worker/store/waiting.py (*) | one entry per waiting scope |
| `ringset:<prio>`           | set    | worker/store/waiting.py (*) | the same scopes, to test   |
| `apps`                     | hash   | worker/store/waiting.py (*) | one field per scope seen   |
| `sched`                    | hash   | worker/store/waiting.py    | a few fields               |
| `wake`                     | list   | worker/store/waiting.py (*) | one element                |
| `<queue>`, `unacked*`      | kombu  | Celery / kombu (dispatch fills it) | a second of sends |
| `watch`                    | zset   | worker/store/watchdog.py (+) | one per job handed out   |
| `retries`                  | zset   | worker/store/park.py       | one entry per parked job   |
| `dead:index`, `dead:entries` | zset+hash | worker/store/deadletters.py | NOTIFY_DEAD_MAX / _TTL |
| `dead:reasons`             | hash   | worker/store/deadletters.py | one field per reason      |
| `circuit`                  | hash   | worker/store/circuit.py    | one key                    |
| `rate:*`                   | hash   | worker/store/limiter.py    | TTL of a few windows       |
| `stats:counters`           | hash   | worker/store/metrics.py    | TTL 30 d, refreshed on write |
| `stats:window:<t>`         | hash   | worker/store/metrics.py    | TTL 2 min                  |
| `stats:minute:<t>`         | hash   | worker/store/metrics.py    | TTL 65 min (60 of them)    |
| `stats:share:<t>`          | hash   | worker/store/waiting.py    | TTL 2 min                  |
| `stats:workers`            | zset   | worker/store/heartbeat.py  | pruned; TTL 1 d            |
| `hooks:due`, `hooks:events` | zset+hash | worker/store/webhooks.py (#) | NOTIFY_WEBHOOK_   |
|                            |        |                            |   MAX_PENDING              |
| `hooks:dead:index`, `:entries` | zset+hash | worker/store/webhooks.py (#) | NOTIFY_DEAD_MAX/_TTL |
| `hooks:dead:reasons`       | hash   | worker/store/webhooks.py (#) | one field per reason     |
| `hooks:gone`               | hash   | worker/store/webhooks.py   | one field per URL gone (410) |
| `unknown:index`, `:entries` | zset+hash | worker/store/unknown.py (#) | NOTIFY_UNKNOWN_IDS_MAX, |
|                            |        |                            | NOTIFY_OUTCOME_TTL         |

(+) created by the producer's enqueue script, changed only by the worker's scripts; its
shape (fields, statuses, the compact final form) is producers/outcomes.py, read by both.
(#) also written by the record scripts that make a job final (succeed.lua, bury.lua): a
webhook event joins the outbox, and unknown identifiers their log, in the same script as
the record, so a crash between the two cannot lose one (helpers: lua/webhooks.lua,
lua/unknown.lua, owned by those modules).
(*) the enqueue script (a job waits as it is recorded) and the scripts that give a job back
(retry mover, watchdog, release, replay) push to these too, by the same rules.

A `scope` is an application code made safe for a key name (`app_scope`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: An application code used as is in key names; anything else is hashed (`app_scope`).
_PLAIN_CODE = re.compile(r"[A-Za-z0-9-]{1,64}")


def app_scope(code: str) -> str:
    """The key-safe name of an application code (SHA-1: the Lua side has redis.sha1hex).

    The code itself when it is plain (letters, digits, dashes: every real Pushwoosh code),
    else `h:` + 16 hex digits of its SHA-1, so that no code can collide with another's
    keys (`X:holds` once named X's) or carry a line break into a key name. The Lua side
    computes the same (producers/lua/common.lua `app_scope`).
    """
    if _PLAIN_CODE.fullmatch(code):
        return code
    return "h:" + hashlib.sha1(code.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Keys:
    prefix: str = "notify-relay:"

    def outcome(self, job_id: str) -> str:
        return f"{self.prefix}{{{job_id}}}:outcome"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}idem:{{{key}}}"

    def queue(self, name: str) -> str:
        """The kombu list a queue lives in (kombu adds the same global prefix)."""
        return f"{self.prefix}{name}"

    def waiting(self, priority: str, scope: str) -> str:
        return f"{self.prefix}wait:{priority}:{scope}"

    def ring(self, priority: str) -> str:
        return f"{self.prefix}ring:{priority}"

    @property
    def apps(self) -> str:
        return f"{self.prefix}apps"

    @property
    def sched(self) -> str:
        return f"{self.prefix}sched"

    @property
    def wake(self) -> str:
        return f"{self.prefix}wake"

    @property
    def watch(self) -> str:
        return f"{self.prefix}watch"

    @property
    def retries(self) -> str:
        return f"{self.prefix}retries"

    @property
    def dead_index(self) -> str:
        return f"{self.prefix}dead:index"

    @property
    def dead_entries(self) -> str:
        return f"{self.prefix}dead:entries"

    @property
    def dead_reasons(self) -> str:
        return f"{self.prefix}dead:reasons"

    @property
    def unacked(self) -> str:
        """kombu's hash of delivered, unacknowledged messages (its default name)."""
        return f"{self.prefix}unacked"

    @property
    def circuit(self) -> str:
        return f"{self.prefix}circuit"

    def rate(self, scope: str) -> str:
        return f"{self.prefix}rate:{scope}"

    def stats(self, name: str) -> str:
        return f"{self.prefix}stats:{name}"

    def hooks(self, name: str) -> str:
        """The webhook outbox and its dead letters: `due`, `events`, `dead:*`, `gone`."""
        return f"{self.prefix}hooks:{name}"

    def unknown(self, name: str) -> str:
        """The log of identifiers the endpoint did not know: `index`, `entries`."""
        return f"{self.prefix}unknown:{name}"
