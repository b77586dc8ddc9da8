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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, eagerly
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

#: Each public name, and the module it lives in: imported on first use, so a worker that
#: imports `producers.keys` or `producers.job` does not load the request contract
#: (marshmallow and every schema: ~5 MiB per process) or the producers it never runs.
_EXPORTS = {
    "AsyncProducer": "producers.async_producer",
    "segment_push": "producers.builders",
    "transactional_push": "producers.builders",
    "JobId": "producers.enqueue",
    "NotReplicated": "producers.exceptions",
    "NotifyRelayError": "producers.exceptions",
    "QueueError": "producers.exceptions",
    "QueueFull": "producers.exceptions",
    "QueueUnavailable": "producers.exceptions",
    "SettingsError": "producers.exceptions",
    "ValidationError": "producers.exceptions",
    "http_status_for": "producers.exceptions",
    "one_line": "producers.exceptions",
    "Job": "producers.job",
    "Priority": "producers.job",
    "TASK_NAME": "producers.job",
    "Attempt": "producers.outcomes",
    "DEAD_REASONS": "producers.outcomes",
    "Status": "producers.outcomes",
    "Producer": "producers.producer",
    "MessageType": "producers.schemas",
    "Platform": "producers.schemas",
    "Settings": "producers.settings",
    "DEFAULT_MAX_TARGETS": "producers.validation",
    "flatten_messages": "producers.validation",
    "validate": "producers.validation",
    "validate_many": "producers.validation",
    "warnings": "producers.validation",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'producers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
