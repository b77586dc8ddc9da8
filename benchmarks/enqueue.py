"""Enqueue throughput from one process: N jobs, each validated with `producers.validate`.

Every case validates every request the same way (the nested marshmallow schema) and
puts it on a Redis queue of the private server, flushed before each run:

* `Producer.enqueue` — validate, then one Lua script per job (record + key + message)
* `Producer.enqueue_many` — validate all, then the scripts pipelined, `BATCH` a call
* plain Celery `send_task` loop, Dramatiq `send` loop — `validate` before each
* ceilings: validation alone, and validation + a raw redis-py LPUSH of the JSON
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import redis

from benchmarks.body import BODY
from benchmarks.infra import RedisServer
from benchmarks.systems import Target, notify_relay_settings
from producers import Producer, validate

BATCH = 1000
Case = Callable[[RedisServer, list[dict[str, Any]]], None]


def _validation_only(server: RedisServer, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        validate(body)


def _raw_lpush(server: RedisServer, bodies: list[dict[str, Any]]) -> None:
    client = redis.Redis.from_url(server.url)
    for body in bodies:
        client.lpush("bench:raw", json.dumps(validate(body)))
    client.close()


def _producer(server: RedisServer) -> Producer:
    return Producer(settings=notify_relay_settings(Target(server.url, "http://127.0.0.1:9")))


def _enqueue(server: RedisServer, bodies: list[dict[str, Any]]) -> None:
    producer = _producer(server)
    for body in bodies:
        producer.enqueue(body)
    producer.close()


def _enqueue_many(server: RedisServer, bodies: list[dict[str, Any]]) -> None:
    producer = _producer(server)
    for start in range(0, len(bodies), BATCH):
        producer.enqueue_many(bodies[start : start + BATCH])
    producer.close()


def _celery_send_task(server: RedisServer, bodies: list[dict[str, Any]]) -> None:
    from benchmarks.peers.celery_app import TASK_NAME, make_app

    app = make_app(server.url)
    for body in bodies:
        app.send_task(TASK_NAME, args=[validate(body)])
    app.close()


def _dramatiq_send(server: RedisServer, bodies: list[dict[str, Any]]) -> None:
    from benchmarks.peers.dramatiq_app import make_actor

    actor = make_actor(server.url)
    for body in bodies:
        actor.send(validate(body))
    actor.broker.close()


CASES: dict[str, Case] = {
    "notify-relay enqueue_many": _enqueue_many,
    "notify-relay enqueue": _enqueue,
    "celery send_task loop": _celery_send_task,
    "dramatiq send loop": _dramatiq_send,
    "ceiling: validate + raw LPUSH": _raw_lpush,
    "ceiling: validate alone": _validation_only,
}


def run(name: str, n: int, server: RedisServer) -> dict[str, Any]:
    """One timed run of one case (client set-up included, as an application would pay)."""
    server.flush()
    bodies = [BODY] * n
    started = time.perf_counter()
    CASES[name](server, bodies)
    elapsed = time.perf_counter() - started
    return {"jobs_per_s": n / elapsed}
