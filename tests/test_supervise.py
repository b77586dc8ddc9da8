"""`run_until_stopped` (what `notify-relay flower` runs Flower under) stops a child that
lost its first stop signal, as Flower does when SIGTERM lands in a weakref callback, and
reports a child ended by the signal it was sent as a clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from notify_relay.supervise import RESEND_AFTER_S
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

def test_a_child_that_swallowed_sigterm_gets_it_again_and_exits_cleanly():
    supervisor = supervised(CHILD)

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=20) == 0
    assert supervisor.stdout is not None
    assert supervisor.stdout.read().strip() == "stopped on signal 2"

def supervised(child: str) -> subprocess.Popen[str]:
    """A supervisor running `child` (which prints "ready" once it may be signalled)."""
    source = f"""
import sys
from notify_relay.supervise import run_until_stopped
raise SystemExit(run_until_stopped([sys.executable, "-c", {child!r}], {{}}))
"""
    supervisor = subprocess.Popen([sys.executable, "-c", source], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
    assert supervisor.stdout is not None
    assert supervisor.stdout.readline().strip() == "ready"
    return supervisor


WAITS = 'print("ready", flush=True)\nimport time\nwhile True: time.sleep(0.05)\n'


def test_a_child_ended_by_the_forwarded_signal_itself_is_a_clean_stop():
    supervisor = supervised(WAITS)  # SIGTERM's default action: wait status -15
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=20) == 0


def test_any_other_end_keeps_its_code():
    exits_3 = supervised("import signal, sys\n"
                         "signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n" + WAITS)
    exits_3.send_signal(signal.SIGTERM)
    assert exits_3.wait(timeout=20) == 3

    killed = supervised("import os, signal, threading\n"
                        "signal.signal(signal.SIGTERM, lambda *_: threading.Thread("
                        "target=os.kill, args=(os.getpid(), signal.SIGKILL)).start())\n"
                        + WAITS)
    killed.send_signal(signal.SIGTERM)
    assert killed.wait(timeout=20) == 256 - signal.SIGKILL  # SystemExit(-9)


# A child whose shutdown takes a while after its first SIGTERM, as Flower's does (its
# threads are joined); it says how many signals it got.
SLOW_STOP = f"""
import signal, sys, time
seen = []
signal.signal(signal.SIGTERM, lambda *_: seen.append(1))
print("ready", flush=True)
while not seen:
    time.sleep(0.01)
time.sleep({RESEND_AFTER_S * 0.6})
print("signals", len(seen), flush=True)
"""


def test_a_child_still_shutting_down_gets_no_second_signal():
    supervisor = supervised(SLOW_STOP)
    # Not a synchronisation: the signal comes late in the supervisor's first RESEND_AFTER_S,
    # where a resend on a fixed cycle from its start (as before) fell mid-shutdown.
    time.sleep(RESEND_AFTER_S * 0.6)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=20) == 0
    assert supervisor.stdout is not None
    assert supervisor.stdout.read().strip() == "signals 1"
