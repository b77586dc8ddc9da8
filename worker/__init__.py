"""The worker side: the Celery app, the send pipeline and the Redis state layer.

`celery -A worker worker` finds the app in `worker/celery.py`; importing any other module
of this package starts nothing (no Celery app, no environment read). It may import
`producers` (the contract), never the other way round. See `worker/store/__init__.py`
for who owns which Redis keys.
"""
