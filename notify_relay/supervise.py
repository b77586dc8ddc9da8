"""Run a child process and make sure a stop signal really stops it.

Flower exits from its SIGTERM handler with `sys.exit(0)`. When the signal lands while
the interpreter runs a weakref callback, that SystemExit is swallowed ("Exception
ignored in: <function WeakSet...>") and Flower keeps running until the supervisor
(honcho, Docker) kills it. So the signal is passed on, and passed on again if the
child is still running RESEND_AFTER_S after the last one: long enough for a normal shutdown to end
undisturbed (a second signal during it prints a traceback), short enough to beat
honcho's 5 s grace.

Under honcho, about one stop in four, Flower logged "15 detected, shutting down" (its
handler ran) and yet ended by SIGTERM's default action (wait status -15), within a
second and before any resend: the signal's Python handler is gone once the interpreter
finalizes, and a pending signal then kills it. Either way it stopped because it was
asked to: a child that ends by the very signal forwarded to it is reported as a clean
stop (0), so a supervisor above sees what it asked for; any other end keeps its code.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import time
from collections.abc import Mapping
from types import FrameType

RESEND_AFTER_S = 2.5
#: How often the child is looked at (its end, and whether a signal is due again).
POLL_S = 0.1
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child (Linux): be killed if we are, since it is outside our process group."""
    # Not Linux (no prctl): a supervisor's SIGKILL of the parent may then orphan it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_until_stopped(argv: list[str], env: Mapping[str, str]) -> int:
    """Run `argv`; forward SIGTERM/SIGINT to it (again while it lingers); its exit code."""
    # Its own process group: a supervisor that signals our group (honcho, a terminal's
    # Ctrl-C) must not reach the child directly too, or it would get the signal twice,
    # the second during its shutdown.
    child = subprocess.Popen(argv, env=dict(env), start_new_session=True,
                             preexec_fn=_die_with_parent)
    received: list[int] = []
    sent_at: list[float] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        sent_at.append(time.monotonic())
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    while True:
        try:
            code = child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            # Counted from the last signal sent, not from a fixed cycle: a cycle's end came
            # any time after the first signal, 0.1 s after it in CI, mid-shutdown.
            if received and time.monotonic() - sent_at[-1] >= RESEND_AFTER_S:
                forward(received[-1], None)
            continue
        return 0 if received and code == -received[-1] else code
