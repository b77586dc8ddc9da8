"""The worker side: the Celery app, the send pipeline and the Redis state layer.

`celery -A worker worker` finds the app in `worker/celery.py`; importing any other module
of this package starts nothing (no Celery app, no environment read). It may import
`producers` (the contract), never the other way round. See `worker/store/__init__.py`
for who owns which Redis keys.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """`worker.app` for `celery -A worker`, imported on first use only.

    Celery would find `worker.celery:app` by itself, but it swallows an ImportError raised
    inside that module and reports "Module 'worker' has no attribute 'celery'"; asked for
    `app` here, the real error reaches the user.
    """
    if name == "app":
        from worker.celery import app

        return app
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
