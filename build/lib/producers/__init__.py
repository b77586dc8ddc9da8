"""What application code imports: the request contract, `Producer` and `AsyncProducer`.

    from producers import Producer, validate, ValidationError

    producer = Producer.from_env()
    job_id = producer.enqueue(request, priority="urgent", idempotency_key="order-77")
    producer.outcome(job_id)

    async with AsyncProducer.from_env() as producer:      # asyncio: the same contract
        job_id = await producer.enqueue(request)

Everything it raises to application code derives from `producers.NotifyRelayError`
(the tree is drawn in `producers/exceptions.py`); redis-py's errors never escape it.

This package never imports `worker`: a job waits in Redis until a worker hands it out.
"""

from producers.async_producer import AsyncProducer
from producers.builders import segment_push, transactional_push
from producers.enqueue import JobId
from producers.exceptions import (
    NotifyRelayError,
    NotReplicated,
    QueueError,
    QueueFull,
    QueueUnavailable,
    SettingsError,
    ValidationError,
    http_status_for,
    one_line,
)
from producers.job import TASK_NAME, Job, Priority
from producers.outcomes import DEAD_REASONS, Attempt, Status
from producers.producer import Producer
from producers.schemas import MessageType, Platform
from producers.settings import Settings
from producers.validation import (
    DEFAULT_MAX_TARGETS,
    flatten_messages,
    validate,
    validate_many,
    warnings,
)

__all__ = [
    "DEAD_REASONS",
    "DEFAULT_MAX_TARGETS",
    "TASK_NAME",
    "AsyncProducer",
    "Attempt",
    "Job",
    "JobId",
    "MessageType",
    "NotReplicated",
    "NotifyRelayError",
    "Platform",
    "Priority",
    "Producer",
    "QueueError",
    "QueueFull",
    "QueueUnavailable",
    "Settings",
    "SettingsError",
    "Status",
    "ValidationError",
    "flatten_messages",
    "http_status_for",
    "one_line",
    "segment_push",
    "transactional_push",
    "validate",
    "validate_many",
    "warnings",
]
