"""What application code imports: the request contract and the `Producer`.

    from producers import Producer, validate, ValidationError

    producer = Producer.from_env()
    job_id = producer.enqueue(request, idempotency_key="order-77")
    producer.outcome(job_id)

This package never imports `worker`: it publishes by task name.
"""

from producers.job import TASK_NAME, Job
from producers.outcomes import Attempt, Status
from producers.producer import Producer
from producers.settings import Settings, SettingsError
from producers.validation import ValidationError, validate, validate_many

__all__ = [
    "TASK_NAME",
    "Attempt",
    "Job",
    "Producer",
    "Settings",
    "SettingsError",
    "Status",
    "ValidationError",
    "validate",
    "validate_many",
]
