"""Signed outcome webhooks end to end: real workers, the emulator, a real receiver.

Short ladders (tenths of a second) stand in for the day-long default; everything else
is as in production: events leave the record scripts' outbox, a worker's own deliverer
POSTs them, the receiver verifies them with the Standard Webhooks reference library.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from click.testing import CliRunner, Result
from standardwebhooks import Webhook, WebhookVerificationError

from notify_relay.cli import cli
from notify_relay.processes import free_port, wait_until
from producers import Producer
from producers.settings import Settings
from tests.integration.helpers import example
from tests.webhook_receiver import Receiver
from worker.store import Stores

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"notify-relay webhook test key!!!").decode()


def hooked(settings: Settings, url: str, **changes: object) -> Settings:
    return settings.replace(webhook_url=url, webhook_secret=SECRET,
                            webhook_retry_delays="0.3,0.3", webhook_timeout_s=2.0, **changes)


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=settings.to_env(), catch_exceptions=False)


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def test_each_event_type_arrives_signed_and_a_tampered_body_fails_verification(
        settings, start_worker, emulator_client, receiver):
    emulator_client.script({"kind": "respond", "status": 400, "match": {"application": "DEAD-1"}})
    # The flag is set where jobs are enqueued: the producer reads the setting too.
    config = hooked(settings, receiver.url, return_unknown_identifiers=True)
    start_worker(settings_override=config)
    request = example()
    request["transactional"]["users"]["list"] = ["unknown-alice", "bob"]
    producer = Producer(settings=config)
    sent = producer.enqueue(request)
    dead = producer.enqueue(example(application="DEAD-1"))
    producer.close()
    received = receiver.wait_for(3)
    verifier = Webhook(SECRET)
    events = {r.event["type"]: r.event for r in received}
    for r in received:
        assert verifier.verify(r.body, r.headers) == r.event
        assert r.headers["content-type"] == "application/json"
        with pytest.raises(WebhookVerificationError):
            verifier.verify(r.body.replace(b'"attempts":1', b'"attempts":2'), r.headers)
    assert set(events) == {"notification.succeeded", "notification.dead", "identifiers.unknown"}
    assert events["notification.succeeded"]["data"]["job_id"] == sent
    assert events["notification.dead"]["data"] == {
        "job_id": dead, "status": "dead", "application": "DEAD-1", "kind": "transactional",
        "attempts": 1, "dead_reason": "permanent"}
    assert events["identifiers.unknown"]["data"]["unknown_identifiers"] == {
        "users": ["unknown-alice"], "hwids": [], "push_tokens": []}
    everything = b" ".join(r.body + json.dumps(r.headers).encode() for r in received)
    assert b"bob" not in everything and b"4821" not in everything  # no targets, no content
    assert settings.api_token.encode() not in everything and SECRET.encode() not in everything


def test_a_receiver_answering_503_twice_gets_the_event_on_the_third_try_with_the_same_id(
        settings, start_worker, producer, redis_client):
    with Receiver(503, 503) as receiver:
        config = hooked(settings, receiver.url, webhook_events="notification.succeeded")
        start_worker(settings_override=config)
        producer.enqueue(example())
        tries = receiver.wait_for(3)
        webhooks = Stores.build(config, redis_client).webhooks
        wait_until(lambda: webhooks.snapshot(time.time())["backlog"] == 0, 10, "delivered")
        assert [r.status for r in receiver.received] == [503, 503, 204]
    assert len({r.headers["webhook-id"] for r in tries}) == 1
    assert len({r.body for r in tries}) == 1
    for r in tries:  # each try signed afresh, each signature good
        Webhook(SECRET).verify(r.body, r.headers)
    assert tries[1].at - tries[0].at >= 0.3 and tries[2].at - tries[1].at >= 0.3


def test_a_receiver_down_for_the_whole_ladder_leaves_a_dead_letter_that_replay_delivers(
        settings, start_worker, producer, redis_client):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    config = hooked(settings, url, webhook_events="notification.succeeded")
    start_worker(settings_override=config)
    job_id = producer.enqueue(example())
    webhooks = Stores.build(config, redis_client).webhooks
    wait_until(lambda: list(webhooks.iter_dead()), 20, "the webhook dead letter")
    [dead] = webhooks.iter_dead()
    assert (dead.state["reason"], dead.state["tries"], dead.state["job_id"]) == (
        "exhausted", 3, job_id)
    assert "Connection refused" in dead.state["last_error"] or "connect" in dead.state[
        "last_error"].lower()
    listed = run(config, "webhooks", "list", "--json")
    assert json.loads(listed.output)["id"] == dead.id
    with Receiver(port=port) as receiver:
        replayed = run(config, "webhooks", "replay", "--all")
        assert replayed.exit_code == 0 and f"replayed {dead.id}" in replayed.output
        [delivered] = receiver.wait_for(1)
    assert delivered.headers["webhook-id"] == dead.id
    assert delivered.event["data"]["job_id"] == job_id
    Webhook(SECRET).verify(delivered.body, delivered.headers)
    wait_until(lambda: webhooks.snapshot(time.time())["backlog"] == 0, 10, "an empty outbox")
    assert webhooks.snapshot(time.time())["dead_letters"]["total"] == 0


def test_a_410_stops_deliveries_to_that_url_loudly_until_resumed(
        settings, start_worker, producer, redis_client):
    with Receiver(410) as receiver:
        config = hooked(settings, receiver.url, webhook_events="notification.succeeded")
        worker = start_worker(settings_override=config)
        producer.enqueue(example())
        receiver.wait_for(1)
        webhooks = Stores.build(config, redis_client).webhooks
        wait_until(lambda: webhooks.snapshot(time.time())["url_gone"], 10, "the URL gone")
        producer.wait(producer.enqueue(example()))
        wait_until(lambda: len(list(webhooks.iter_dead())) == 2, 10, "two dead letters")
        assert len(receiver.received) == 1  # the second event was never POSTed
        assert {d.state["reason"] for d in webhooks.iter_dead()} == {"gone"}
        wait_until(lambda: "status=stopped" in worker.log_text(), 5, "the ERROR line")
        def stats() -> dict:
            return json.loads(run(config, "stats", "--json").output)["webhooks"]

        # counters are flushed every half second
        wait_until(lambda: stats()["deliveries"] == {"gone": 1, "stopped": 1}, 5, "counters")
        assert stats()["url_gone"]
        assert "STOPPED" in run(config, "stats").output
        assert "resumed" in run(config, "webhooks", "resume").output
        assert run(config, "webhooks", "replay", "--all", "--reason", "gone").exit_code == 0
        receiver.wait_for(3)
    assert [r.status for r in receiver.received] == [410, 204, 204]
