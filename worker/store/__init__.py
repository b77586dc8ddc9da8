"""The Redis state layer: every key family the worker writes, each owned by one module here.

No Celery in this package and nothing runs at import: the worker, the scheduler, the CLI
and the tests build the same stores the same way, through `Stores.build`.

| module          | owns (producers/keys.py has the full table)                            |
|-----------------|------------------------------------------------------------------------|
| waiting.py      | `wait:*`, `ring(set):*`, `apps`, `sched`, `wake`, `stats:share:*`: waiting |
| claims.py       | the worker's writes to `{job}:outcome`: claim, succeed, retry, bury, release |
| park.py         | `retries`: failed sends waiting out their backoff                       |
| watchdog.py     | `watch`: jobs handed out whose message kombu may have lost              |
| deadletters.py  | `dead:*`: jobs that will not be sent                                    |
| circuit.py      | `circuit`: 401/403 stops every send                                     |
| limiter.py      | `rate:*`: the shared send budget                                        |
| metrics.py      | `stats:counters`, `stats:window:*`, `stats:minute:*`: fleet-wide counters |
| heartbeat.py    | `stats:workers`: worker liveness                                        |
| webhooks.py     | `hooks:*`: the webhook outbox, its dead letters, URLs gone (410)        |
| unknown.py      | `unknown:*`: identifiers the endpoint did not know, for export          |
| stats.py        | nothing: one read of all of the above                                   |

Every script is a `.lua` file in `lua/`, loaded and called through `producers.scripts`.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from producers.keys import Keys
from producers.settings import Settings
from worker.store.circuit import Circuit
from worker.store.claims import ClaimStore
from worker.store.deadletters import DeadLetterStore
from worker.store.limiter import Budget
from worker.store.metrics import Metrics
from worker.store.park import Park
from worker.store.unknown import UnknownIdStore
from worker.store.waiting import Waiting
from worker.store.watchdog import Watchdog
from worker.store.webhooks import WebhookStore


@dataclass(frozen=True)
class Stores:
    """Every store, on one Redis client and one key prefix."""

    settings: Settings
    redis: Redis
    keys: Keys
    waiting: Waiting
    claims: ClaimStore
    park: Park
    watchdog: Watchdog
    dead: DeadLetterStore
    circuit: Circuit
    budget: Budget
    metrics: Metrics
    webhooks: WebhookStore
    unknown: UnknownIdStore

    @classmethod
    def build(cls, settings: Settings, client: Redis, *,
              metrics_flush_s: float | None = None) -> Stores:
        """The one place store constructors are called.

        `metrics_flush_s`: add counters up in memory and write them that often (a worker:
        no round trip per send); None writes each at once (tools, tests).
        """
        keys = Keys(settings.key_prefix)
        budget = Budget.from_settings(client, keys, settings)
        webhooks = WebhookStore(client, keys, settings)
        unknown = UnknownIdStore(client, keys)
        return cls(
            settings=settings,
            redis=client,
            keys=keys,
            waiting=Waiting(client, keys, settings, budget),
            claims=ClaimStore(client, keys, settings, budget, outbox_keys=webhooks.outbox_keys,
                              unknown_keys=unknown.keys),
            park=Park(client, keys),
            watchdog=Watchdog(client, keys, settings.watchdog_grace_s),
            dead=DeadLetterStore(client, keys, settings),
            circuit=Circuit(client, keys, settings.circuit_probe_interval_s),
            budget=budget,
            metrics=Metrics(client, keys, flush_every_s=metrics_flush_s),
            webhooks=webhooks,
            unknown=unknown,
        )
