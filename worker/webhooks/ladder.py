"""What becomes of a webhook after one try: one pure function (Standard Webhooks' advice).

| the receiver's answer                       | next                                        |
|---------------------------------------------|---------------------------------------------|
| 2xx                                         | done                                        |
| 410 Gone                                    | dead `gone`, and no more sends to that URL  |
| anything else (3xx: redirects are not       | again after the ladder's next wait (+0-10 % |
|   followed; 4xx, 5xx, timeout, refused,     |   jitter; a longer Retry-After wins, up to  |
|   reset), ladder not used up                |   the ladder's longest wait)                |
| the same, every try of the ladder used up   | dead `exhausted`                            |

`tries` counts the POSTs made, this one included; a ladder of n waits gives n + 1 tries
(NOTIFY_WEBHOOK_RETRY_DELAYS; the default is Svix's: immediately, then 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 10 h).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from worker.store.webhooks import HookDead, HookStep

#: Up to this share is added to each wait, so receivers that failed together are not
#: all tried again in the same instant.
JITTER = 0.1
GONE = 410


@dataclass(frozen=True)
class After:
    step: HookStep
    due_in_s: float = 0.0  # retry: how long from now
    reason: HookDead | None = None  # dead: why


def after_try(status: int | None, tries: int, ladder: tuple[float, ...], rng: random.Random,
              retry_after_s: float | None = None) -> After:
    if status is not None and 200 <= status < 300:
        return After(HookStep.DONE)
    if status == GONE:
        return After(HookStep.DEAD, reason=HookDead.GONE)
    if tries > len(ladder):
        return After(HookStep.DEAD, reason=HookDead.EXHAUSTED)
    wait_s = ladder[tries - 1] * (1 + JITTER * rng.random())
    if retry_after_s:
        wait_s = max(wait_s, min(retry_after_s, max(ladder)))
    return After(HookStep.RETRY, due_in_s=wait_s)
