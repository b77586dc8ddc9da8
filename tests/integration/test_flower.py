"""Flower, started by `notify-relay flower`, against a real worker: summaries only, and a login.

Flower learns about tasks from worker events (`task-received` carries the arguments'
repr) and about workers from `celery inspect` (active / reserved / scheduled carry the
arguments themselves unless the worker redacts them). Both paths are read back through
Flower's HTTP API and searched for the token and the request's personal data.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery

from notify_relay.cli.ops import FlowerArgumentError, command_argv, flower_command
from notify_relay.processes import Service, free_port, wait_until
from producers import Producer
from producers.settings import Settings
from tests.conftest import ROOT
from tests.integration.helpers import example

LOGIN = ("ops", f"pw-{secrets.token_hex(6)}")


class Flower:
    def __init__(self, url: str, service: Service) -> None:
        self.url = url
        self.service = service

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.url + path, params=params, auth=LOGIN, timeout=10)

    def task(self, task_id: str) -> dict[str, Any] | None:
        answer = self.get(f"/api/task/info/{task_id}")
        return answer.json() if answer.status_code == 200 else None


@pytest.fixture
def flower(settings: Settings, tmp_path: Path) -> Iterator[Flower]:
    port = free_port()
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT),
           "FLOWER_BASIC_AUTH": ":".join(LOGIN)}
    argv = command_argv("flower", f"--port={port}", "--address=127.0.0.1")
    service = Service("flower", argv, env, tmp_path / "logs")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url + "/healthcheck") or not service.alive(), 30, "Flower")
        assert service.alive(), service.log_text()[-2000:]
        yield Flower(url, service)
    finally:
        service.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def control_app(settings: Settings) -> Celery:
    """A Celery app on the test's broker and prefix, for events and `inspect` from here."""
    from worker.celery import celery_config

    app = Celery("test-control")
    app.conf.update(celery_config(settings))
    return app


def wait_until_flower_listens(flower: Flower, settings: Settings) -> None:
    """Flower answers HTTP before its event receiver subscribes: probe until it sees events."""
    app = control_app(settings)
    probe_id = f"probe-{uuid.uuid4()}"
    with app.connection_for_write() as conn:
        dispatcher = app.events.Dispatcher(conn, hostname="probe@test")

        def seen() -> bool:
            dispatcher.send("task-received", uuid=probe_id, name="probe", args="()",
                            kwargs="{}", retries=0, root_id=probe_id, parent_id=None)
            return flower.task(probe_id) is not None

        wait_until(seen, 30, "Flower to receive events", poll_s=0.2)


def transactional_with_personal_data(user_id: str, email: str) -> dict[str, Any]:
    request = example("transactional")
    request["transactional"]["users"] = {"list": [user_id, email]}
    return request


def secrets_in(text: str, *needles: str) -> list[str]:
    return [needle for needle in needles if needle in text]


pytestmark = pytest.mark.integration


def wait_until_flower_sees_worker_tasks(flower: Flower, producer: Producer) -> None:
    """Workers start with task events off (NOTIFY_TASK_EVENTS); Flower switches them on
    every 5 s. Send probe jobs until one shows up in Flower."""
    def probe_listed() -> bool:
        job_id = producer.enqueue(example("transactional"))
        producer.wait(job_id, timeout=30)
        return any(job_id in (t.get("args") or "")
                   for t in flower.get("/api/tasks").json().values())

    wait_until(probe_listed, 40, "Flower to switch task events on in the worker", poll_s=0.5)


def test_flower_lists_the_task_as_succeeded_with_a_summary_and_no_token_or_user_id(
        producer: Producer, start_worker, flower: Flower, settings: Settings, api_token: str):
    assert requests.get(flower.url + "/api/tasks", timeout=5).status_code == 401  # login
    start_worker()
    wait_until_flower_listens(flower, settings)
    wait_until_flower_sees_worker_tasks(flower, producer)
    user_id, email = f"user-{secrets.token_hex(6)}", f"{secrets.token_hex(4)}@example.com"

    job_id = producer.enqueue(transactional_with_personal_data(user_id, email))
    assert producer.wait(job_id, timeout=30)["status"] == "succeeded"

    def listed_succeeded() -> bool:
        tasks = flower.get("/api/tasks").json()
        return any(t.get("state") == "SUCCESS" and job_id in (t.get("args") or "")
                   for t in tasks.values())

    wait_until(listed_succeeded, 20, "Flower to list the task as succeeded", poll_s=0.2)
    answer = flower.get("/api/tasks")
    [task] = [t for t in answer.json().values() if job_id in (t.get("args") or "")]
    assert task["name"] == "notify_relay.deliver"
    assert task["args"] == f"('deliver 1: {job_id}',)"  # ids only
    assert task["result"] == "'sent=1'"
    detail = flower.get(f"/api/task/info/{task['uuid']}")
    assert secrets_in(answer.text + detail.text, api_token, user_id, email) == []


def test_inspecting_a_running_task_in_flower_or_celery_shows_no_personal_data(
        producer: Producer, start_worker, flower: Flower, settings: Settings, api_token: str,
        emulator_client):
    # A slow answer keeps the task active while Flower (and `celery inspect`) look at it.
    worker = start_worker(settings_override=settings.replace(read_timeout_s=5.0))
    node = f"{worker.name}@{socket.gethostname()}"
    user_id = f"user-{secrets.token_hex(6)}"
    emulator_client.script({"kind": "hang", "hang_s": 3, "count": 1})

    job_id = producer.enqueue(transactional_with_personal_data(user_id, "x@example.org"))
    emulator_client.wait_for_requests(1, timeout=20)
    answer = flower.get("/api/workers", workername=node, refresh="1")
    # `celery inspect active` / `query_task` ask without `safe`: Celery's default shows args.
    inspect = control_app(settings).control.inspect(destination=[node], timeout=2)
    active = inspect.active()[node]
    queried = inspect.query_task(active[0]["id"])[node]

    assert answer.status_code == 200, answer.text
    assert [job_id in task["args"] for task in answer.json()[node]["active"]] == [True]
    assert [job_id in task["args"] for task in active] == [True]
    shown = answer.text + json.dumps(active) + json.dumps(queried)
    assert secrets_in(shown, api_token, user_id, "x@example.org") == []
    assert producer.wait(job_id, timeout=30)["status"] == "succeeded"


def test_flower_refuses_to_start_without_a_login_unless_local():
    settings = Settings()
    with pytest.raises(ValueError, match="FLOWER_BASIC_AUTH is not set"):
        flower_command(settings, {}, port=5555, address=None, allow_control=False)
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        flower_command(settings.replace(flower_local=True), {}, port=5555,
                       address="0.0.0.0", allow_control=False)

    argv, env = flower_command(settings.replace(flower_local=True),
                               {"PUSHWOOSH_API_TOKEN": "t", "FLOWER_BASIC_AUTH": ""},
                               port=5555, address=None, allow_control=False)

    assert "--address=127.0.0.1" in argv and "--read_only=True" in argv
    assert "PUSHWOOSH_API_TOKEN" not in env and "FLOWER_BASIC_AUTH" not in env


def test_flower_takes_the_login_from_the_environment_only():
    with_login = Settings(flower_basic_auth="ops:pw")
    argv, _ = flower_command(with_login, {}, port=5555, address=None, allow_control=True)
    assert "--address=0.0.0.0" in argv and "--read_only=True" not in argv
    with pytest.raises(ValueError, match="not on the command line"):
        flower_command(with_login, {}, port=5555, address=None, allow_control=False,
                       extra=("--basic-auth=ops:pw",))


def test_flower_summaries_are_built_from_the_job_whatever_the_publisher_sent():
    from worker.redaction import summarize_args

    job = {"job_id": "j1", "request": transactional_with_personal_data("u-9", "a@b.co"),
           "enqueued_at": 1.0, "expires_at": 2.0}
    summary = summarize_args([job])
    assert summary.startswith("('job=j1 kind=transactional") and "u-9" not in summary
    assert summarize_args([{"not": "a job"}]) == "('<not a notify-relay job>',)"
    batch = summarize_args([[job, {**job, "job_id": "j2"}]])
    assert batch == "('batch of 2: j1 j2',)"
    assert summarize_args([[job, {"not": "a job"}]]) == "('<not a notify-relay job>',)"
    assert summarize_args([[["j1", 1, 5.0, 0], ["j2", 3, -1, 0]]]) == "('deliver 2: j1 j2',)"


@pytest.mark.parametrize("arg", [
    "--address=0.0.0.0", "-address=0.0.0.0", "--address", "--port=9999",
    "--read_only=False", "--read-only=False", "--read_only", "--READ_ONLY=0",
    "--auth=.*@example.com", "--auth_provider=flower.views.auth.GithubLoginHandler",
    "--basic_auth=ops:pw", "--basic-auth=ops:pw", "--unix_socket=/tmp/flower.sock",
    "--unix-socket=/tmp/f.sock", "--conf=/tmp/flowerconfig.py", "address=0.0.0.0",
])
def test_flower_refuses_pass_through_arguments_that_would_undo_its_guards(arg):
    with_login = Settings(flower_basic_auth="ops:pw")
    with pytest.raises(FlowerArgumentError, match="^refused "):
        flower_command(with_login, {}, port=5555, address=None, allow_control=False,
                       extra=("--xheaders", arg))


def test_flower_passes_other_arguments_on_and_never_reads_a_config_file():
    argv, _ = flower_command(Settings(flower_basic_auth="ops:pw"), {}, port=5555, address=None,
                             allow_control=False,
                             extra=("--url_prefix=flower", "--max_tasks=5000", "--xheaders"))
    assert argv[-3:] == ["--url_prefix=flower", "--max_tasks=5000", "--xheaders"]
    assert f"--conf={os.devnull}" in argv  # not ./flowerconfig.py of the working directory
    with pytest.raises(FlowerArgumentError, match="^refused FLOWER_UNIX_SOCKET"):
        flower_command(Settings(flower_basic_auth="ops:pw"), {"FLOWER_UNIX_SOCKET": "/tmp/s"},
                       port=5555, address=None, allow_control=False)


@pytest.mark.parametrize("args", [
    ["--", "--address=0.0.0.0"],  # after `--` click hands it on instead of checking it
    ["--xheaders", "-address=0.0.0.0"],
    ["--read-only=False"],
    ["--basic_auth=ops:secret-pw"],
])
def test_the_flower_command_says_why_in_one_line_and_exits_2(args):
    from click.testing import CliRunner

    from notify_relay.cli import cli

    answer = CliRunner().invoke(cli, ["flower", *args], env={"NOTIFY_FLOWER_LOCAL": "1"})

    assert answer.exit_code == 2
    [line] = answer.output.splitlines()
    assert line.startswith("notify-relay flower: refused -"), line
    assert "secret-pw" not in line  # a login on the command line is never echoed
