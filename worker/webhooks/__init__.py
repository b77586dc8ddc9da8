"""Signed outcome webhooks (Standard Webhooks), delivered at least once with a stable id.

| module        | what                                                                  |
|---------------|-----------------------------------------------------------------------|
| payloads.py   | the events an outcome becomes (ids, bodies); `Outbox` for the worker  |
| signing.py    | the `webhook-*` headers of one try (the `standardwebhooks` library)   |
| ladder.py     | after one try: done, again later, or a dead letter (pure)             |
| deliverer.py  | the loop of its own that POSTs them (threads, HTTP pool, Redis client) |
| report.py     | its log lines, counters and the 410 alert                             |

The outbox, its dead letters and the gone URLs are `hooks:*` (worker/store/webhooks.py).
Events join the outbox in the script that makes the job final (lua/succeed.lua,
lua/bury.lua): an outcome is never recorded without its events, nor an event queued for
an outcome that was not recorded. Nothing here runs at import.
"""
