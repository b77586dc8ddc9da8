"""Every Redis key notify-relay writes, built in one place under one prefix.

Per-job keys carry the job id as a Redis Cluster hash tag (`{...}`) so that one
job's keys share a slot. Each family has exactly one owning module, named below;
no other module writes it.

| family                    | type   | owner                   | bound                      |
|---------------------------|--------|-------------------------|----------------------------|
| `{job}:outcome`           | hash   | worker/store/claims.py (+) | TTL NOTIFY_OUTCOME_TTL  |
| `{job}:attempts`          | list   | worker/store/claims.py  | TTL NOTIFY_OUTCOME_TTL     |
| `idem:{key}`              | string | producers/producer.py   | TTL NOTIFY_IDEMPOTENCY_WINDOW |
| `<queue>`, `unacked*`     | kombu  | Celery / kombu          | live jobs only             |
| `retries`                 | zset   | worker/store/park.py    | one entry per live job     |
| `watch`, `watch:messages` | zset+hash | worker/store/watchdog.py (*) | one per live job/batch |
| `dead:index`, `dead:entries` | zset+hash | worker/store/deadletters.py | NOTIFY_DEAD_MAX / _TTL |
| `dead:reasons`            | hash   | worker/store/deadletters.py | one field per reason   |
| `circuit`                 | hash   | worker/store/circuit.py | one key                    |
| `rate:*`                  | string/hash | worker/store/limiter.py | TTL of a few windows   |
| `stats:counters`          | hash   | worker/store/metrics.py | TTL 30 d, refreshed on write |
| `stats:window:<t>`        | hash   | worker/store/metrics.py | TTL 2 min                  |
| `stats:workers`           | zset   | worker/store/heartbeat.py | pruned; TTL 1 d          |

(+) created by the producer's enqueue script, changed only by the worker's claim and record
scripts; its shape (fields, statuses) is producers/outcomes.py, shared by both sides.
(*) the producer's enqueue script writes a message's first watch entry (under the job's
id, or `batch:<task id>` for a batch), in the same script that queues the message. The
batch script touches several jobs' keys, so it needs one Redis node (as kombu's Redis
transport does anyway), not a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "notify-relay:"

    def outcome(self, job_id: str) -> str:
        return f"{self.prefix}{{{job_id}}}:outcome"

    def attempts(self, job_id: str) -> str:
        return f"{self.prefix}{{{job_id}}}:attempts"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}idem:{{{key}}}"

    def queue(self, name: str) -> str:
        """The kombu list a queue lives in (kombu adds the same global prefix)."""
        return f"{self.prefix}{name}"

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
    def watch(self) -> str:
        return f"{self.prefix}watch"

    @property
    def watch_messages(self) -> str:
        return f"{self.prefix}watch:messages"

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
