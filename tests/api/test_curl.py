"""A client that is not Python: curl enqueues through the API and reads the outcome that
a real worker recorded (the README's walkthrough, command for command)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.integration.helpers import EXAMPLES

pytestmark = pytest.mark.integration


def curl(*args: str) -> tuple[int, dict]:
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args],
                          capture_output=True, text=True, timeout=60, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_curl_enqueues_and_reads_the_outcome(start_api, start_worker):
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("curl is not installed: scripts/bootstrap.sh installs it")
        pytest.skip("curl is not installed")
    api = start_api()
    start_worker()
    auth = f"Authorization: Bearer {api.key}"
    request = json.loads((EXAMPLES / "transactional.json").read_text())
    status, accepted = curl("-X", "POST", f"{api.url}/v1/notifications", "-H", auth,
                            "-H", "Content-Type: application/json",
                            "-H", "Idempotency-Key: order-4821",
                            "--data", json.dumps({"request": request, "priority": "urgent"}))
    assert status == 202 and accepted["duplicate"] is False
    status, record = curl("-H", auth, f"{api.url}/v1/notifications/{accepted['job_id']}?wait=25")
    assert status == 200
    assert (record["status"], record["priority"]) == ("succeeded", "urgent")
    status, again = curl("-X", "POST", f"{api.url}/v1/notifications", "-H", auth,
                         "-H", "Content-Type: application/json",
                         "-H", "Idempotency-Key: order-4821",
                         "--data", json.dumps({"request": request}))
    assert (status, again) == (202, {"job_id": accepted["job_id"], "duplicate": True})
