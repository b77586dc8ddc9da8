"""The API with its Redis stopped under it: 503 with Retry-After on every endpoint that
needs Redis, the cause in the server's log (no password), and back once Redis is."""

from __future__ import annotations

import pytest

from notify_relay.processes import wait_until
from tests.integration.helpers import example
from tests.private_redis import PASSWORD, PrivateRedis

pytestmark = pytest.mark.integration


def test_a_stopped_redis_is_503_with_retry_after_and_nothing_leaks(start_api, settings,
                                                                   tmp_path):
    redis = PrivateRedis(tmp_path / "redis")
    try:
        api = start_api(settings_override=settings.replace(redis_url=redis.url))
        assert api.post("/v1/notifications", {"request": example()}).status_code == 202
    finally:
        redis.stop()
    answers = [api.post("/v1/notifications", {"request": example()}),
               api.post("/v1/notifications/batch", {"requests": [example()]}),
               api.get("/v1/notifications/any-job"),
               api.get("/healthz")]
    assert [a.status_code for a in answers] == [503, 503, 503, 503]
    assert all(a.headers["Retry-After"] == "1" for a in answers)
    assert answers[0].json()["error"].startswith("the queue is unavailable: retry in 1 s")
    assert all("127.0.0.1" not in a.text and PASSWORD not in a.text for a in answers)
    wait_until(lambda: "redis at 127.0.0.1:" in api.log_text(), 10, "the logged cause")
    assert f":{PASSWORD}@" not in api.log_text()
    assert api.service.alive()
