"""`AsyncProducer` against a real Redis, each test inside one debug-mode event loop whose
every callback is measured: one that works on the loop for long (a big plan made on the loop)
or waits on it (a blocking call) fails the test. The same contract as `Producer`: ids,
idempotency, validation, outcomes, wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from notify_relay.processes import free_port
from producers import AsyncProducer, Producer, QueueUnavailable, ValidationError
from producers.connection import async_redis_client
from tests.integration.helpers import example
from tests.private_redis import url_for

#: A callback using this much CPU works on the loop (a Redis round trip here is ~0.2 ms).
#: CPU time, not wall time: on a busy 2-core machine a 10 ms step waited 54 ms for the
#: GIL (the plan's thread holds it) and the scheduler, and wall time failed the test.
SLOW_CALLBACK_CPU_S = 0.05
#: A callback taking this long by the clock waits on the loop (a blocking call); far above
#: what waiting for the GIL and the scheduler costs a step.
SLOW_CALLBACK_S = 0.5
LOOP_THREAD = "watched-loop"


@contextlib.contextmanager
def slow_callbacks() -> Iterator[list[str]]:
    """Every callback run in LOOP_THREAD that used SLOW_CALLBACK_CPU_S of CPU or took
    SLOW_CALLBACK_S. A task's steps are callbacks too (call_soon): this sees all loop work.

    asyncio's debug mode (on as well) checks wall-clock time only, which a busy machine
    stretches; its bookkeeping (a stack for every task and future) is counted here too,
    ~20 ms of CPU for the step that starts 100 tasks.
    """
    slow: list[str] = []
    run = asyncio.events.Handle._run

    def measured(handle: asyncio.Handle) -> None:
        if threading.current_thread().name != LOOP_THREAD:
            return run(handle)  # type: ignore[no-any-return]
        started, started_cpu = time.monotonic(), time.thread_time()
        try:
            return run(handle)  # type: ignore[no-any-return]
        finally:
            took, used = time.monotonic() - started, time.thread_time() - started_cpu
            if used >= SLOW_CALLBACK_CPU_S or took >= SLOW_CALLBACK_S:
                slow.append(f"{handle!r} took {took:.3f} s, used {used:.3f} s of CPU")

    asyncio.events.Handle._run = measured  # type: ignore[assignment,method-assign]
    try:
        yield slow
    finally:
        asyncio.events.Handle._run = run  # type: ignore[method-assign]


def run_in_watched_loop(caplog: pytest.LogCaptureFixture,
                        main: Callable[[], Awaitable[Any]]) -> Any:
    """Run `main()` in one fresh debug-mode loop; fail on a slow callback or anything
    asyncio logs (an exception never retrieved, a callback that raised)."""
    loop = asyncio.new_event_loop()
    loop.set_debug(True)  # what else asyncio checks: calls from other threads, unawaited work
    loop.slow_callback_duration = SLOW_CALLBACK_S
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = loop.run_until_complete(main())
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome["error"] = exc
        finally:
            loop.close()

    # In its own thread: debug mode records the creator's stack in every task it makes,
    # and pytest's stack is deep (100 tasks from here took 50 ms of that bookkeeping).
    # The test process's heap (pytest, hypothesis, every module the suite imported) is left
    # out of garbage collection meanwhile: a full collection of it alone took 40-70 ms,
    # inside whichever callback it fell in.
    gc.collect()
    gc.freeze()
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"), slow_callbacks() as slow:
            thread = threading.Thread(target=run, name=LOOP_THREAD)
            thread.start()
            thread.join()
    finally:
        gc.unfreeze()
    if "error" in outcome:
        raise outcome["error"]
    logged = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert slow + logged == [], slow + logged
    return outcome["result"]


@pytest.fixture
def make_async(settings):
    """An AsyncProducer on the test's settings; made inside the running loop."""
    def make() -> AsyncProducer:
        return AsyncProducer(settings=settings)
    return make


def test_the_slow_callback_check_catches_a_blocked_loop(caplog):
    async def blocks() -> None:
        time.sleep(SLOW_CALLBACK_S * 3)  # what a blocking call on the loop looks like

    with pytest.raises(AssertionError, match=r"took [1-9]"):
        run_in_watched_loop(caplog, blocks)


def test_the_cpu_check_catches_work_on_the_loop(caplog):
    async def works() -> None:
        until = time.thread_time() + SLOW_CALLBACK_CPU_S * 2
        while time.thread_time() < until:  # what validating a big batch on the loop does
            pass

    with pytest.raises(AssertionError, match="s of CPU"):
        run_in_watched_loop(caplog, works)


def test_a_hundred_concurrent_enqueues_get_a_hundred_waiting_jobs(
        caplog, make_async, producer, redis_client, key_prefix):
    requests = [example() for _ in range(100)]  # read from disk before the loop runs

    async def main() -> list[str]:
        async with make_async() as async_producer:
            return await asyncio.gather(*(async_producer.enqueue(request)
                                          for request in requests))

    job_ids = run_in_watched_loop(caplog, main)
    assert len(set(job_ids)) == 100
    assert {producer.outcome(job_id)["status"] for job_id in job_ids} == {"queued"}
    waiting = redis_client.lrange(f"{key_prefix}wait:normal:ABCDE-12345", 0, -1)
    assert sorted(v.decode() for v in waiting) == sorted(job_ids)


def test_a_big_enqueue_many_keeps_order_and_does_not_hold_the_loop(
        caplog, make_async, redis_client, key_prefix):
    requests = [example()] * 1500

    async def main() -> list[str]:
        async with make_async() as async_producer:
            # ~0.1 s of validation: on the loop it would be one slow callback.
            return await async_producer.enqueue_many(requests, priority="bulk")

    job_ids = run_in_watched_loop(caplog, main)
    waiting = redis_client.lrange(f"{key_prefix}wait:bulk:ABCDE-12345", 0, -1)
    assert [v.decode() for v in waiting] == job_ids


def test_an_idempotency_key_gives_the_first_job_and_says_it_is_a_duplicate(
        caplog, make_async, redis_client, key_prefix):
    request = example()

    async def main() -> tuple[Any, ...]:
        async with make_async() as async_producer:
            first = await async_producer.enqueue(request, idempotency_key="order-77")
            again = await async_producer.enqueue(request, idempotency_key="order-77")
            many = await async_producer.enqueue_many([request] * 2,
                                                     idempotency_keys=["order-77", None])
            return first, again, many

    first, again, many = run_in_watched_loop(caplog, main)
    assert again == first and (first.duplicate, again.duplicate) == (False, True)
    assert many[0] == first and many[0].duplicate and not many[1].duplicate
    assert redis_client.llen(f"{key_prefix}wait:normal:ABCDE-12345") == 2


def test_an_invalid_request_raises_the_same_validation_error_and_queues_nothing(
        caplog, make_async, producer, redis_client, key_prefix):
    good, bad = example(), example()
    del bad["transactional"]["platforms"]

    async def main() -> tuple[ValidationError, ValidationError]:
        async with make_async() as async_producer:
            with pytest.raises(ValidationError) as single:
                await async_producer.enqueue(bad)
            with pytest.raises(ValidationError) as many:
                await async_producer.enqueue_many([good, bad])
            return single.value, many.value

    single, many = run_in_watched_loop(caplog, main)
    with pytest.raises(ValidationError) as sync:
        producer.enqueue(bad)
    assert single.messages == sync.value.messages  # one implementation of the rules
    assert "1.transactional.platforms" in str(many)
    assert not any(redis_client.scan_iter(f"{key_prefix}wait:*"))


def test_outcome_reads_what_producer_reads_and_none_for_an_unknown_job(
        caplog, make_async, producer):
    job_id = producer.enqueue(example(), idempotency_key="k-1")

    async def main() -> tuple[Any, Any]:
        async with make_async() as async_producer:
            return await async_producer.outcome(job_id), await async_producer.outcome("nope")

    record, unknown = run_in_watched_loop(caplog, main)
    assert record == producer.outcome(job_id) and unknown is None


def test_wait_returns_the_final_outcome_a_real_worker_records(
        caplog, make_async, start_worker, producer):
    start_worker()
    request = example()

    async def main() -> dict[str, Any]:
        async with make_async() as async_producer:
            job_id = await async_producer.enqueue(request)
            return await async_producer.wait(job_id, timeout=30)

    record = run_in_watched_loop(caplog, main)
    assert record["status"] == "succeeded"
    assert record == producer.outcome(record["job_id"])


def test_wait_gives_up_with_a_timeout_error_naming_the_status(caplog, make_async):
    request = example()

    async def main() -> None:
        async with make_async() as async_producer:
            job_id = await async_producer.enqueue(request)
            with pytest.raises(TimeoutError, match="still queued after 0.2s"):
                await async_producer.wait(job_id, timeout=0.2)

    run_in_watched_loop(caplog, main)


def test_scripts_forgotten_by_redis_are_loaded_again(caplog, settings, redis_client,
                                                     key_prefix):
    request = example()

    async def main() -> list[str]:
        async with AsyncProducer(settings=settings) as async_producer:
            redis_client.script_flush()  # what a Redis restart does to the script cache
            one = await async_producer.enqueue(request)
            redis_client.script_flush()
            many = await async_producer.enqueue_many([request] * 300)  # a pipeline
            return [one, *many]

    job_ids = run_in_watched_loop(caplog, main)
    assert redis_client.llen(f"{key_prefix}wait:normal:ABCDE-12345") == len(job_ids) == 301


def test_an_unreachable_redis_raises_queue_unavailable_not_a_redis_error(caplog, settings):
    stopped = settings.replace(redis_url=url_for(free_port()))
    request = example()

    async def main() -> QueueUnavailable:
        client = async_redis_client(stopped, socket_connect_timeout=1)
        async with AsyncProducer(settings=stopped, client=client) as async_producer:
            with pytest.raises(QueueUnavailable) as caught:
                await async_producer.enqueue(request)
            return caught.value

    error = run_in_watched_loop(caplog, main)
    assert error.retry_after_s == 1.0 and "secret" not in str(error)
    assert isinstance(error.__cause__, Exception)


def test_from_env_reads_the_same_variables_as_producer():
    env = {"REDIS_URL": "redis://127.0.0.1:6379/9", "NOTIFY_KEY_PREFIX": "env-test:"}
    async_producer = AsyncProducer.from_env(env)
    assert async_producer.settings == Producer.from_env(env).settings
    asyncio.run(async_producer.aclose())
