"""`run_until_stopped` (what `notify-relay flower` runs Flower under) stops a child that
lost its first stop signal, as Flower does when SIGTERM lands in a weakref callback."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.conftest import ROOT

# A child that swallows its first SIGTERM, and exits 0 on the next.
CHILD = """
import signal, sys, time
seen = []
def on_term(signum, frame):
    seen.append(signum)
    if len(seen) > 1:
        print("stopped on signal", len(seen), flush=True)
        sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

SUPERVISOR = f"""
import sys
from notify_relay.supervise import run_until_stopped
raise SystemExit(run_until_stopped([sys.executable, "-c", {CHILD!r}], {{}}))
"""


def test_a_child_that_swallowed_sigterm_gets_it_again_and_exits_cleanly():
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
    assert supervisor.stdout is not None
    assert supervisor.stdout.readline().strip() == "ready"

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=20) == 0
    assert supervisor.stdout.read().strip() == "stopped on signal 2"
