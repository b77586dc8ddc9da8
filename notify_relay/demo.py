"""`notify-relay demo`: the whole service end to end on one machine, in a minute.

Without PUSHWOOSH_API_TOKEN it runs against the local emulator with a throwaway
token; with one, against PUSHWOOSH_BASE_URL for real.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import click
import requests

from notify_relay.processes import Service, free_port, python_argv, wait_until
from producers import Producer, ValidationError
from producers.settings import Settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LOG_DIR = Path(".demo")


def run_demo(settings: Settings, *, keep_running: bool, flower_port: int) -> int:
    env = dict(os.environ)
    services: list[Service] = []
    try:
        if not settings.api_token:
            env.update(_start_emulator(services))
        services.append(Service("worker", python_argv(
            "-m", "notify_relay.cli", "worker", "--processes", "1", "--loglevel", "INFO",
            "--without-mingle", "--without-gossip"), env, LOG_DIR))
        services.append(_start_flower(env, flower_port))
        click.echo(f"worker and Flower started (logs in {LOG_DIR}/); "
                   f"Flower: http://127.0.0.1:{flower_port}/")
        ok = _enqueue_examples(Producer(settings=settings))
        if keep_running:
            click.echo("running; Ctrl-C stops everything")
            wait_until(lambda: not all(s.alive() for s in services), timeout=10**9,
                       what="a process to exit", poll_s=1)
        return 0 if ok else 1
    except KeyboardInterrupt:
        return 0
    finally:
        for service in reversed(services):
            service.stop()
        click.echo("stopped worker, Flower and emulator")


def _start_emulator(services: list[Service]) -> dict[str, str]:
    port, token = free_port(), f"demo-{secrets.token_hex(8)}"
    env = dict(os.environ, EMULATOR_TOKEN=token)
    service = Service("emulator", python_argv("-m", "emulator", "--port", str(port)), env,
                      LOG_DIR)
    services.append(service)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(url + "/_emulator/health"), 15, "the emulator")
    click.echo(f"PUSHWOOSH_API_TOKEN is not set: using the local emulator at {url}")
    return {"PUSHWOOSH_API_TOKEN": token, "PUSHWOOSH_BASE_URL": url}


def _start_flower(env: dict[str, str], port: int) -> Service:
    # `notify-relay flower`: local mode (no login) listens on 127.0.0.1 only.
    argv = python_argv("-m", "notify_relay.cli", "flower", f"--port={port}")
    return Service("flower", argv, dict(env, NOTIFY_FLOWER_LOCAL="1"), LOG_DIR)


def _enqueue_examples(producer: Producer) -> bool:
    job_ids = []
    for name in ("segment", "transactional"):
        request = json.loads((EXAMPLES / f"{name}.json").read_text())
        job_ids.append(producer.enqueue(request))
        click.echo(f"enqueued {name:<13} job {job_ids[-1]}")
    try:
        producer.enqueue(json.loads((EXAMPLES / "invalid.json").read_text()))
    except ValidationError as exc:
        errors = "\n".join(f"  {line}" for line in str(exc).splitlines())
        click.echo(f"rejected invalid.json before queueing it:\n{errors}")
    ok = True
    for job_id in job_ids:
        record = producer.wait(job_id, timeout=60)
        last = record["attempts"][-1] if record["attempts"] else {}
        click.echo(f"outcome {job_id}: {record['status']} after {record['attempt_count']} "
                   f"attempt(s), HTTP {last.get('http_status')}, "
                   f"message_code {record.get('message_code')}")
        ok = ok and record["status"] == "succeeded"
    return ok


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False
