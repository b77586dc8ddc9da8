"""The library raises only its own errors: each type through the real client, one base.

Against real servers (tests/private_redis.py): stopped, at maxmemory under noeviction, a
read-only replica, a wrong password, and a listener that never answers (a timeout). The
classification table of `producers.redis_errors` is checked row by row on the errors
redis-py's own parser makes of Redis's replies.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import marshmallow
import pytest
import redis
import redis.asyncio
import redis.exceptions as rx
from redis._parsers import BaseParser

import producers
from producers import (
    NotifyRelayError,
    NotReplicated,
    Producer,
    QueueError,
    QueueFull,
    QueueUnavailable,
    SettingsError,
    ValidationError,
    http_status_for,
    one_line,
)
from producers.redis_errors import queue_error, raises_queue_errors, redacted_endpoint
from producers.settings import Settings
from tests.private_redis import PASSWORD, RedisStates, start_states

REQUEST = json.loads((Path(__file__).resolve().parents[2] / "examples" / "segment.json")
                     .read_text())


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisStates]:
    yield from start_states(tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A listener that accepts connections and never answers: every read times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def producer_for(url: str, **client_options: Any) -> Producer:
    client = redis.Redis.from_url(url, **client_options) if client_options else None
    return Producer(url, client=client)


CALLS = {
    "enqueue": lambda p: p.enqueue(REQUEST),
    "enqueue_many": lambda p: p.enqueue_many([REQUEST, REQUEST]),
    "outcome": lambda p: p.outcome("some-job"),
    "wait": lambda p: p.wait("some-job", timeout=0.1),
}
# (state, call, our type, redis-py's type, words in the message)
FAILURES = [
    ("stopped", "enqueue", QueueUnavailable, rx.ConnectionError, "is unavailable"),
    ("stopped", "enqueue_many", QueueUnavailable, rx.ConnectionError, "is unavailable"),
    ("stopped", "outcome", QueueUnavailable, rx.ConnectionError, "is unavailable"),
    ("stopped", "wait", QueueUnavailable, rx.ConnectionError, "is unavailable"),
    ("full", "enqueue", QueueFull, rx.OutOfMemoryError, "is full"),
    ("full", "enqueue_many", QueueFull, rx.OutOfMemoryError, "is full"),
    ("replica", "enqueue", QueueUnavailable, rx.ReadOnlyError, "is a read-only replica"),
    ("replica", "enqueue_many", QueueUnavailable, rx.ReadOnlyError, "is a read-only replica"),
    ("bad_login", "outcome", SettingsError, rx.AuthenticationError, "refused the login"),
    ("bad_login", "enqueue", SettingsError, rx.AuthenticationError, "refused the login"),
]


@pytest.mark.parametrize(("state", "call", "ours", "theirs", "words"), FAILURES,
                         ids=[f"{s}-{c}" for s, c, *_ in FAILURES])
def test_each_failure_of_redis_reaches_the_application_as_ours(states, state, call, ours,
                                                               theirs, words):
    url = states.url(state)
    producer = producer_for(url)
    try:
        CALLS[call](producer)
    except NotifyRelayError as caught:
        error = caught
    else:
        pytest.fail(f"{call} on a {state} redis raised nothing")
    finally:
        producer.close()

    assert type(error) is ours
    assert isinstance(error.__cause__, theirs)
    assert words in str(error) and words in one_line(error)
    assert f"127.0.0.1:{url.rsplit(':', 1)[1]}" in str(error)  # host:port/db
    assert PASSWORD not in str(error) and "wrong" not in one_line(error)
    assert "\n" not in one_line(error)


def test_a_full_redis_still_answers_reads(states):
    producer = producer_for(states.full.url)
    assert producer.outcome(states.job_id)["status"] == "queued"
    producer.close()


def test_a_redis_that_never_answers_is_a_timeout_worth_retrying_with_the_same_key(silent_port):
    producer = producer_for(f"redis://:{PASSWORD}@127.0.0.1:{silent_port}/0",
                            socket_timeout=0.2, socket_connect_timeout=0.2)
    with pytest.raises(NotifyRelayError) as caught:
        producer.outcome("some-job")

    assert type(caught.value) is QueueUnavailable
    assert isinstance(caught.value.__cause__, rx.TimeoutError)
    assert "timed out" in str(caught.value) and "same idempotency key" in str(caught.value)


def test_queue_errors_say_whether_to_retry_and_what_http_answers(states):
    unavailable = catch(lambda: producer_for(states.stopped_url).outcome("x"))
    full = catch(lambda: producer_for(states.full.url).enqueue(REQUEST))

    assert (unavailable.retryable, unavailable.retry_after_s) == (True, 1.0)
    assert (full.retryable, full.retry_after_s) == (False, None)
    assert http_status_for(unavailable) == (503, 1)
    assert http_status_for(full) == (507, None)
    assert isinstance(unavailable, QueueError) and isinstance(full, QueueError)


def catch(call: Any) -> Any:
    try:
        call()
    except NotifyRelayError as error:
        return error
    raise AssertionError("nothing raised")


def test_an_invalid_request_is_ours_and_still_marshmallows(states):
    producer = producer_for(states.stopped_url)  # validated before any Redis call

    with pytest.raises(NotifyRelayError) as caught:
        producer.enqueue({"segment": {}})

    assert isinstance(caught.value, marshmallow.ValidationError)
    assert isinstance(caught.value, ValidationError) and caught.value.messages
    assert one_line(caught.value).startswith("invalid request: segment.")
    assert "\n" not in one_line(caught.value)
    assert http_status_for(caught.value) == (422, None)


def test_a_bad_setting_is_ours_and_still_a_value_error():
    with pytest.raises(NotifyRelayError) as caught:
        Settings.from_env({"NOTIFY_MAX_ATTEMPTS": "0"})

    assert isinstance(caught.value, ValueError)
    assert producers.settings.SettingsError is SettingsError is producers.SettingsError
    assert one_line(caught.value).startswith("configuration error: NOTIFY_MAX_ATTEMPTS=")


class AsyncThing:
    """What the async producer will look like to the decorator: `.settings`, async methods."""

    def __init__(self, url: str) -> None:
        self.settings = Settings(redis_url=url)

    @raises_queue_errors
    async def ping(self) -> Any:
        client = redis.asyncio.Redis.from_url(self.settings.redis_url)
        try:
            return await client.ping()
        finally:
            await client.aclose()


def test_async_methods_raise_ours_too(states):
    with pytest.raises(QueueUnavailable) as caught:
        asyncio.run(AsyncThing(states.stopped_url).ping())
    assert isinstance(caught.value.__cause__, rx.ConnectionError)


def test_every_error_survives_pickling_with_its_fields(states):
    error = catch(lambda: producer_for(states.stopped_url).outcome("x"))
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.endpoint, copy.retry_after_s) == (
        type(error), str(error), error.endpoint, error.retry_after_s)
    settings = pickle.loads(pickle.dumps(SettingsError("X=1 is bad", todo="fix X")))
    assert one_line(settings) == "configuration error: X=1 is bad; fix X"


def test_not_replicated_says_how_many_replicas_confirmed_and_what_to_do():
    error = NotReplicated.after_wait("10.0.0.1:6379/0", wanted=2, acked=1, timeout_s=0.5)

    assert isinstance(error, QueueError) and isinstance(error, NotifyRelayError)
    assert one_line(error) == (
        "redis at 10.0.0.1:6379/0 did not replicate the write: 1 of 2 replica(s) confirmed "
        "it within 0.5s; enqueue again with the same idempotency key (the first job's id "
        "comes back if it survived); check the replicas' link to the primary")
    assert http_status_for(error) == (503, None)


# The classification, row by row, on what redis-py's parser makes of each reply.
REPLIES = [
    ("OOM command not allowed when used memory > 'maxmemory'.", QueueFull, None),
    ("ERR Error running script (call to f_1): @user_script:1: -OOM command not allowed",
     QueueFull, None),
    ("LOADING Redis is loading the dataset in memory", QueueUnavailable, 5.0),
    ("READONLY You can't write against a read only replica.", QueueUnavailable, 1.0),
    ("MASTERDOWN Link with MASTER is down", QueueUnavailable, 1.0),
    ("CLUSTERDOWN The cluster is down", QueueUnavailable, 1.0),
    ("TRYAGAIN Multiple keys request during rehashing of slot", QueueUnavailable, 1.0),
    ("UNBLOCKED force unblock from blocking operation", QueueUnavailable, 1.0),
    ("NOREPLICAS Not enough good replicas to write.", QueueUnavailable, 1.0),
    ("MISCONF Redis is configured to save RDB snapshots", QueueUnavailable, 1.0),
    ("NOSCRIPT No matching script.", QueueUnavailable, 1.0),
    ("ERR max number of clients reached", QueueUnavailable, 1.0),
    ("WRONGTYPE Operation against a key holding the wrong kind of value", QueueError, None),
    ("EXECABORT Transaction discarded because of previous errors.", QueueError, None),
    ("NOAUTH Authentication required.", SettingsError, None),
    ("WRONGPASS invalid username-password pair or user is disabled.", SettingsError, None),
    ("NOPERM User default has no permissions to run the 'evalsha' command", SettingsError,
     None),
]


@pytest.mark.parametrize(("reply", "ours", "retry_after_s"), REPLIES,
                         ids=[reply.split()[0] + str(i) for i, (reply, *_) in
                              enumerate(REPLIES)])
def test_each_redis_reply_is_classified_by_the_table(reply, ours, retry_after_s):
    error = queue_error(BaseParser.parse_error(reply), "h:1/0")
    assert type(error) is ours
    assert getattr(error, "retry_after_s", None) == retry_after_s


@pytest.mark.parametrize(("exc", "ours"), [
    (rx.ConnectionError("Error 111 connecting"), QueueUnavailable),
    (rx.TimeoutError("Timeout reading from socket"), QueueUnavailable),
    (rx.BusyLoadingError("loading"), QueueUnavailable),
    (rx.DataError("Invalid input of type: 'dict'"), QueueError),
])
def test_client_side_errors_are_classified_by_their_type(exc, ours):
    assert type(queue_error(exc, "h:1/0")) is ours


def test_a_pipeline_error_never_quotes_the_commands_arguments():
    exc = rx.ResponseError("Command # 1 (EVALSHA abc 3 q w {\"users\": [\"alice@x.io\"]}) of "
                           "pipeline caused error: READONLY You can't write")
    line = one_line(queue_error(exc, "h:1/0"))
    assert "alice" not in line and "EVALSHA" not in line
    assert line.startswith("redis at h:1/0 is a read-only replica: READONLY You can't write;")


@pytest.mark.parametrize(("url", "endpoint"), [
    ("redis://:secret@cache.internal:6380/2", "cache.internal:6380/2"),
    ("rediss://user:secret@cache.internal:6380/0?ssl_cert_reqs=required",
     "cache.internal:6380/0"),
    ("redis://127.0.0.1", "127.0.0.1:6379/0"),
    ("redis://:secret@127.0.0.1:6379?db=4", "127.0.0.1:6379/4"),
    ("redis://:secret@[::1]:6379/0", "[::1]:6379/0"),
    ("redis://:secret@host:notaport/0", "host:notaport/0"),
])
def test_the_endpoint_never_shows_the_login(url, endpoint):
    assert redacted_endpoint(url) == endpoint


def test_http_status_for_the_rest_is_500():
    assert http_status_for(SettingsError("REDIS_URL: login refused")) == (500, None)
    assert http_status_for(QueueError("w", "why", "todo", "h:1/0")) == (500, None)
