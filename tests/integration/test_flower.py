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

import pytest
import requests

from notify_relay.cli.ops import FlowerArgumentError, flower_command
from notify_relay.processes import wait_until
from producers import Producer
from producers.settings import Settings
from tests.integration.flower_api import (
    Flower,
    control_app,
    secrets_in,
    transactional_with_personal_data,
    wait_until_flower_listens,
    wait_until_flower_sees_worker_tasks,
)

pytestmark = pytest.mark.integration


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
