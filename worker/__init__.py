"""The worker side: `celery -A worker worker` finds `worker.app` here.

Everything that runs inside a worker lives in this package; it may import
`producers` (the contract), never the other way round.
"""

from worker.application import app, settings
from worker.runtime import limit_malloc_arenas
from worker.scheduler import RetryMoverStep

limit_malloc_arenas()

app.steps["worker"].add(RetryMoverStep)

from worker import tasks  # noqa: E402  (registers the task on `app`)

__all__ = ["app", "settings", "tasks"]
