"""Shared fixtures: a real Redis database, the emulator, real worker processes.

Redis: the one on 127.0.0.1:6379 (or $TEST_REDIS_URL), database 9. Each test gets its
own key prefix (every key notify-relay and kombu write carries it), and its keys are
deleted around it, so test runs can share one Redis. Without Redis the integration
tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from emulator import EmulatorClient, EmulatorServer
from notify_relay.processes import Service, wait_until, worker_argv
from producers import Producer
from producers.settings import Settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def key_prefix() -> str:
    return f"nrtest-{secrets.token_hex(4)}:"


def delete_prefixed(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(f"{prefix}*", count=1000):
        client.delete(key)


@pytest.fixture
def redis_client(key_prefix: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"no Redis at {REDIS_URL}: CI must provide one")
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    delete_prefixed(client, key_prefix)
    client.close()


@pytest.fixture
def api_token() -> str:
    return f"secret-token-{secrets.token_hex(12)}"


@pytest.fixture
def emulator(api_token: str) -> Iterator[EmulatorServer]:
    with EmulatorServer(token=api_token) as server:
        yield server


@pytest.fixture
def emulator_client(emulator: EmulatorServer) -> EmulatorClient:
    return EmulatorClient(emulator.url)


@pytest.fixture
def settings(redis_client: redis.Redis, emulator: EmulatorServer, api_token: str,
             key_prefix: str) -> Settings:
    """Settings for fast tests: short timeouts and backoff, the emulator as endpoint."""
    return Settings(
        redis_url=REDIS_URL,
        api_token=api_token,
        base_url=emulator.url,
        key_prefix=key_prefix,
        queue="notify-test",
        backoff_base_s=0.05,
        backoff_max_s=0.5,
        connect_timeout_s=1.0,
        read_timeout_s=2.0,
        visibility_timeout_s=8.0,
        circuit_probe_interval_s=1.0,
        concurrency=8,
        rate_limit="1000/s",
    )


@pytest.fixture
def producer(settings: Settings) -> Iterator[Producer]:
    producer = Producer(settings=settings)
    yield producer
    producer.close()


WorkerFactory = Callable[..., Service]


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start real `celery -A worker worker` processes; all are stopped at teardown."""
    started: list[Service] = []

    def start(name: str = "worker", settings_override: Settings | None = None,
              **env_extra: str) -> Service:
        env = {**os.environ, **(settings_override or settings).to_env(), **env_extra}
        env["PYTHONPATH"] = str(ROOT)
        argv = worker_argv("--loglevel", "INFO", "-n", f"{name}-{len(started)}@%h")
        service = Service(f"{name}-{len(started)}", argv, env, tmp_path / "logs")
        started.append(service)
        wait_until(lambda: "ready." in service.log_text() or not service.alive(), 60,
                   f"{service.name} to be ready")
        if not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.log_text()[-3000:]}")
        return service

    yield start
    for service in started:
        service.stop()
        sys.stderr.write(f"--- {service.name} log tail ---\n{service.log_text()[-1500:]}\n")
