"""Store-level fixtures: every store on the test's Redis and prefix, without Celery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from producers.settings import Settings
from worker.store import Stores


@pytest.fixture
def stores(settings: Settings, redis_client: redis.Redis) -> Iterator[Stores]:
    yield Stores.build(settings, redis_client)
