"""Identifiers the endpoint did not know, end to end, in both answer shapes: recorded in
the outcome, exported by `notify-relay unknown-ids export`, announced by a webhook."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from notify_relay.cli import cli
from producers import Producer
from tests.integration.helpers import example
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"notify-relay webhook test key!!!").decode()
UNKNOWN = {"users": ["unknown-u1"], "hwids": ["unknown-h1"], "push_tokens": []}


@pytest.mark.parametrize("shape", ["object", "list"])
def test_unknown_identifiers_are_recorded_exported_and_announced(
        settings, start_worker, emulator_client, tmp_path, shape):
    emulator_client.configure(unknown_identifiers_shape=shape)
    with Receiver() as receiver:
        config = settings.replace(return_unknown_identifiers=True, webhook_url=receiver.url,
                                  webhook_secret=SECRET, webhook_events="identifiers.unknown")
        start_worker(settings_override=config)
        request = example()
        request["transactional"]["users"]["list"] = ["unknown-u1", "known-u2"]
        request["transactional"]["hwids"] = {"list": ["unknown-h1"]}
        producer = Producer(settings=config)
        job_id = producer.enqueue(request)
        outcome = producer.wait(job_id)
        other = producer.wait(producer.enqueue(example(application="OTHER-APP")))
        producer.close()
        [announced] = receiver.wait_for(1)
    # the stored (and POSTed) request carries the flag the setting added
    [posted, _] = emulator_client.requests()
    assert posted["body"]["transactional"]["return_unknown_identifiers"] is True
    assert outcome["unknown_identifiers"] == UNKNOWN
    assert "unknown_identifiers" not in other  # nothing unknown: nothing recorded
    assert Webhook(SECRET).verify(announced.body, announced.headers) == announced.event
    assert announced.event["data"]["unknown_identifiers"] == UNKNOWN
    assert announced.event["data"]["job_id"] == job_id
    out = tmp_path / "unknown.jsonl"
    result = CliRunner().invoke(cli, ["unknown-ids", "export", str(out), "--since", "1h",
                                      "--application", "ABCDE-12345"], env=config.to_env())
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["identifier"], x["kind"], x["application"], x["job"]) for x in lines] == [
        ("unknown-u1", "users", "ABCDE-12345", job_id),
        ("unknown-h1", "hwids", "ABCDE-12345", job_id)]
    assert all(x["time"].endswith("Z") for x in lines)
    none = CliRunner().invoke(cli, ["unknown-ids", "export", "-", "--application", "NOPE"],
                              env=config.to_env())
    assert none.exit_code == 0 and none.stdout == ""
