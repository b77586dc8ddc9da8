"""A Flower process's HTTP API as the tests read it, and how to wait until it is listening.

Flower learns about tasks from worker events and about workers from `celery inspect`;
`flower` (tests/integration/conftest.py) runs `notify-relay flower` with a login.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import requests
from celery import Celery

from notify_relay.processes import Service, wait_until
from producers import Producer
from producers.settings import Settings
from tests.integration.helpers import example

LOGIN = ("ops", f"pw-{secrets.token_hex(6)}")


class Flower:
    def __init__(self, url: str, service: Service) -> None:
        self.url = url
        self.service = service
        #: The text of every answer read, for the no-secrets checks.
        self.answers: list[str] = []

    def get(self, path: str, **params: Any) -> requests.Response:
        answer = requests.get(self.url + path, params=params, auth=LOGIN, timeout=10)
        self.answers.append(answer.text)
        return answer

    def task(self, task_id: str) -> dict[str, Any] | None:
        answer = self.get(f"/api/task/info/{task_id}")
        return answer.json() if answer.status_code == 200 else None

    def tasks(self, **params: Any) -> dict[str, dict[str, Any]]:
        """`/api/tasks` (`search=`, `state=`, ...), the probes' tasks left out."""
        answer = self.get("/api/tasks", **params)
        assert answer.status_code == 200, answer.text
        return {uuid_: task for uuid_, task in answer.json().items()
                if task.get("name") != "probe"}

    def tasks_of(self, job_id: str) -> list[dict[str, Any]]:
        """The tasks Flower's search finds for a job id, oldest first."""
        return sorted(self.tasks(search=job_id).values(), key=lambda t: t["received"] or 0)

    def worker_counters(self) -> dict[str, dict[str, Any]]:
        """The Workers page's rows by node: `task-received` (Processed), `task-failed`,
        `task-succeeded`, `task-retried`, `task-rejected`, from the events Flower saw."""
        answer = self.get("/workers", json="1")
        assert answer.status_code == 200, answer.text
        return {row["hostname"]: row for row in answer.json()["data"]}


def answers(url: str) -> bool:
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


def wait_until_flower_sees_worker_tasks(flower: Flower, producer: Producer) -> None:
    """Workers start with task events off (NOTIFY_TASK_EVENTS); Flower switches them on
    every 5 s. Send probe jobs until one shows up in Flower."""
    def probe_listed() -> bool:
        job_id = producer.enqueue(example("transactional"))
        producer.wait(job_id, timeout=30)
        return any(job_id in (t.get("args") or "")
                   for t in flower.get("/api/tasks").json().values())

    wait_until(probe_listed, 40, "Flower to switch task events on in the worker", poll_s=0.5)


def transactional_with_personal_data(user_id: str, email: str,
                                     application: str | None = None) -> dict[str, Any]:
    request = example("transactional", application=application)
    request["transactional"]["users"] = {"list": [user_id, email]}
    return request


def secrets_in(text: str, *needles: str) -> list[str]:
    return [needle for needle in needles if needle in text]
