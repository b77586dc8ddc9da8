"""`notify-relay webhooks list|show|replay|purge|resume` against a real Redis."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner, Result

from notify_relay.cli import cli
from producers.settings import Settings
from tests.worker.test_webhook_store import event, succeed_with
from worker.store import Stores
from worker.store.webhooks import HookDead

URL = "https://hooks.example.com/in?token=receiver-secret"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def run(settings: Settings, *args: str, stdin: str | None = None) -> Result:
    env = settings.replace(webhook_url=URL, webhook_secret=SECRET).to_env()
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


def two_dead(stores: Stores, producer) -> None:
    succeed_with(stores, producer, [event(1), event(2), event(3)])
    now = time.time()
    claimed = stores.webhooks.claim(2, lease_s=10, url=URL, now=now)
    reasons = [HookDead.EXHAUSTED, HookDead.GONE]
    for pending, reason in zip(claimed.events, reasons, strict=True):
        stores.webhooks.bury(pending, claimed.token, reason, now, tries=3, last_status=503)


def test_list_show_and_purge_webhook_dead_letters(settings, redis_client, producer):
    stores = Stores.build(settings, redis_client)
    two_dead(stores, producer)
    listed = [json.loads(line) for line in run(settings, "webhooks", "list", "--json").output
              .splitlines()]
    assert {(x["id"], x["reason"]) for x in listed} == {("msg_1", "exhausted"),
                                                        ("msg_2", "gone")}
    assert "msg_1" in run(settings, "webhooks", "list", "--reason", "exhausted").output
    pending = run(settings, "webhooks", "list", "--pending").output
    assert "msg_3" in pending and "msg_1" not in pending
    shown = json.loads(run(settings, "webhooks", "show", "msg_1").output)
    assert shown["event"] == {"n": 1} and shown["tries"] == 3
    assert run(settings, "webhooks", "show", "msg_9").exit_code == 1
    assert run(settings, "webhooks", "purge", stdin="n\n").exit_code == 1  # not confirmed
    purged = run(settings, "webhooks", "purge", "--reason", "gone", "--yes")
    assert "purged 1" in purged.output
    assert [x.id for x in stores.webhooks.iter_dead()] == ["msg_1"]


def test_replay_needs_one_id_or_all_and_resume_says_what_it_did(settings, redis_client,
                                                                 producer):
    stores = Stores.build(settings, redis_client)
    two_dead(stores, producer)
    assert run(settings, "webhooks", "replay").exit_code == 2
    assert run(settings, "webhooks", "replay", "msg_9").exit_code == 1
    replayed = run(settings, "webhooks", "replay", "msg_2")
    assert replayed.exit_code == 0 and "replayed msg_2" in replayed.output
    assert stores.webhooks.pending("msg_2").state["tries"] == 0
    assert "were not stopped" in run(settings, "webhooks", "resume").output
    unset = CliRunner().invoke(cli, ["webhooks", "resume"], env=settings.to_env())
    assert unset.exit_code == 2 and "NOTIFY_WEBHOOK_URL is not set" in unset.output
