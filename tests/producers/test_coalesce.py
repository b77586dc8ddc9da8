"""Group commit (producers/coalesce.py): concurrent calls share script calls, each caller
gets its own replies, an error reaches its whole group, a cancelled caller no other.

The pure part runs with a recording `send` (the grouping is plain asyncio); the same
path against a real Redis is in test_async_producer.py (100 concurrent enqueues) and here
(idempotency inside one group).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from producers import AsyncProducer
from producers.coalesce import GroupCommit
from producers.enqueue import HEAD_ARGS, JOBS_PER_CALL, Call
from tests.integration.helpers import example

HEAD = ["", "p:", 1000, 1000, "normal", ""]


def call(*job_ids: str, priority: str = "normal") -> Call:
    head = [*HEAD[:4], priority, ""]
    return Call(["wake"], head + [v for job_id in job_ids for v in (job_id, "", "A", "t", 1, "{}")])


class Recorder:
    """A `send` that records each script call; the first waits at a gate the test opens
    (its round trip, during which the test queues more calls)."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.sent: list[Call] = []
        self.fail_on = fail_on
        self.in_flight = asyncio.Event()
        self.gate = asyncio.Event()

    async def send(self, merged: Call) -> list[Any]:
        self.sent.append(merged)
        if len(self.sent) == 1:
            self.in_flight.set()
            await self.gate.wait()
        if self.fail_on == len(self.sent):
            raise ConnectionError("redis went away")
        return merged.args[HEAD_ARGS::6]  # the script answers each job's own id


def test_calls_made_while_one_is_in_flight_go_together_in_order():
    recorder = Recorder()

    async def main() -> list[list[Any]]:
        group = GroupCommit(recorder.send)
        first = asyncio.ensure_future(group.run(call("a")))
        await recorder.in_flight.wait()  # "a" is on its way
        rest = [asyncio.ensure_future(group.run(c)) for c in (call("b", "c"), call("d"))]
        await asyncio.sleep(0)  # one turn of the loop: both queue up
        recorder.gate.set()
        return [await first, *[await task for task in rest]]

    assert asyncio.run(main()) == [["a"], ["b", "c"], ["d"]]
    assert [c.args[HEAD_ARGS::6] for c in recorder.sent] == [["a"], ["b", "c", "d"]]


def test_only_calls_with_the_same_head_share_a_script_call_and_groups_stay_bounded():
    recorder = Recorder()
    big = [f"j{i}" for i in range(JOBS_PER_CALL - 1)]

    async def main() -> list[list[Any]]:
        group = GroupCommit(recorder.send)
        recorder.gate.set()
        return await asyncio.gather(group.run(call("first")),
                                    group.run(call("u", priority="urgent")),
                                    group.run(call(*big)), group.run(call("n1")),
                                    group.run(call("n2")))

    replies = asyncio.run(main())
    assert replies[1] == ["u"] and replies[2] == big and replies[4] == ["n2"]
    sizes = [(c.args[4], len(c.args[HEAD_ARGS::6])) for c in recorder.sent]
    # "first" and the big one fill a call; then the urgent one; then the normal rest.
    assert sizes == [("normal", JOBS_PER_CALL), ("urgent", 1), ("normal", 2)]


def test_an_error_reaches_every_caller_of_its_group_and_no_other():
    recorder = Recorder(fail_on=2)

    async def main() -> list[Any]:
        group = GroupCommit(recorder.send)
        first = asyncio.ensure_future(group.run(call("a")))
        await recorder.in_flight.wait()
        rest = asyncio.gather(group.run(call("b")), group.run(call("c")),
                              return_exceptions=True)
        await asyncio.sleep(0)
        recorder.gate.set()
        return [await first, *await rest, await group.run(call("d"))]

    first, b, c, after = asyncio.run(main())
    assert first == ["a"] and after == ["d"]
    assert isinstance(b, ConnectionError) and isinstance(c, ConnectionError)


def test_a_cancelled_caller_loses_only_its_own_answer():
    recorder = Recorder()

    async def main() -> list[Any]:
        group = GroupCommit(recorder.send)
        first = asyncio.ensure_future(group.run(call("a")))
        await recorder.in_flight.wait()
        gone = asyncio.ensure_future(group.run(call("b")))
        kept = asyncio.ensure_future(group.run(call("c")))
        await asyncio.sleep(0)  # both queued
        gone.cancel()
        recorder.gate.set()
        return [await first, await kept, gone.cancelled()]

    assert asyncio.run(main()) == [["a"], ["c"], True]


@pytest.mark.integration
def test_concurrent_enqueues_with_one_key_queue_one_job_the_rest_are_duplicates(
        settings, redis_client, key_prefix):
    request = example()

    async def main() -> list[Any]:
        async with AsyncProducer(settings=settings) as producer:
            return await asyncio.gather(*(producer.enqueue(request, idempotency_key="same")
                                          for _ in range(20)))

    job_ids = asyncio.run(main())
    assert len(set(job_ids)) == 1
    assert sum(not job_id.duplicate for job_id in job_ids) == 1
    assert redis_client.llen(f"{key_prefix}wait:normal:ABCDE-12345") == 1
