"""The worker side: `celery -A worker worker` finds `worker.app` here.

Everything that runs inside a worker lives in this package; it may import
`producers` (the contract), never the other way round.
"""

from worker.application import app, settings
from worker.scheduler import RetryMoverStep

app.steps["worker"].add(RetryMoverStep)

from worker import tasks  # noqa: E402  (registers the task on `app`)

__all__ = ["app", "settings", "tasks"]
