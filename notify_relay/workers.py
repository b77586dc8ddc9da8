"""`notify-relay worker`: one worker process per core on a host, supervised.

Sending is I/O-bound but JSON, HTTP parsing and Redis round trips need the GIL, so a
host needs one threads-pool worker process per core. This starts N of them (`python -m
worker.main`: Celery's worker without the `celery` CLI, see worker/main.py), each named
`worker<i>@<host>` unless told otherwise, and

* restarts one that dies (at once, then with a growing pause if it keeps dying, so a
  broken configuration does not spin);
* on SIGTERM or SIGINT, passes it to all of them (Celery's warm shutdown: sends in flight
  finish), waits, and exits 0 when every one exited 0; a second signal is passed on too
  (Celery's cold shutdown);
* exits 2 at once, without restarting, when a worker exits 2 (bad settings: the worker
  printed the one line saying which).

Each worker runs in its own process group, so a terminal's Ctrl-C reaches it once, from
here.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

from notify_relay.supervise import _die_with_parent

#: How often the supervisor looks at its workers (a process table poll, not a wait on
#: some state: there is nothing to block on for several children at once).
POLL_S = 0.2
#: A worker that dies sooner than this after its start counts as dying quickly ...
QUICK_DEATH_S = 10.0
#: ... and is restarted after a pause doubling from this ...
FIRST_PAUSE_S = 0.5
#: ... up to this.
MAX_PAUSE_S = 30.0
#: Exit code of a worker whose settings are wrong (worker/celery.py): not restarted.
SETTINGS_EXIT = 2


@dataclass
class Child:
    index: int
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pause_s: float = 0.0
    restart_at: float = 0.0
    restarts: int = field(default=0)


def worker_argv(index: int, extra: Sequence[str]) -> list[str]:
    """`python -m worker.main` with a node name of its own, and the caller's options."""
    argv = [sys.executable, "-m", "worker.main", *extra]
    return argv if _names_itself(extra) else [*argv, "-n", f"worker{index}@%h"]


def _names_itself(extra: Sequence[str]) -> bool:
    return any(arg in ("-n", "--hostname") or arg.startswith("--hostname=") for arg in extra)


def numbered(extra: Sequence[str], index: int) -> list[str]:
    """A -n/--hostname the caller gave, made unique per process: `name<i>@host`."""
    out = list(extra)
    for position, arg in enumerate(out):
        if arg.startswith("--hostname="):
            out[position] = "--hostname=" + _with_index(arg.partition("=")[2], index)
        elif position and out[position - 1] in ("-n", "--hostname"):
            out[position] = _with_index(arg, index)
    return out


def _with_index(node: str, index: int) -> str:
    name, at, host = node.partition("@")
    return f"{name}{index}{at}{host}"


class Supervisor:
    def __init__(self, processes: int, extra: Sequence[str], env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._children = [Child(i, worker_argv(i, numbered(extra, i))) for i in
                          range(processes)]
        self._signals: list[int] = []

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for child in self._children:
            self._start(child)
        while not self._signals:
            code = self._look_after()
            if code is not None:
                self._stop_all(signal.SIGTERM)
                return code
            time.sleep(POLL_S)
        return self._drain()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals.append(signum)
        if len(self._signals) > 1:  # a second one: pass it on now (cold shutdown)
            self._send(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=self._env, start_new_session=True,
                                      preexec_fn=_die_with_parent)
        child.started = time.monotonic()

    def _look_after(self) -> int | None:
        """Restart dead workers; the exit code to give up with (bad settings), else None."""
        now = time.monotonic()
        for child in self._children:
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                if code == SETTINGS_EXIT:
                    return SETTINGS_EXIT
                self._schedule_restart(child, code, now)
            elif child.proc is None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)
        return None

    def _schedule_restart(self, child: Child, code: int, now: float) -> None:
        quick = now - child.started < QUICK_DEATH_S
        child.pause_s = min(MAX_PAUSE_S, child.pause_s * 2 or FIRST_PAUSE_S) if quick else 0.0
        child.restart_at = now + child.pause_s
        print(f"notify-relay worker: worker {child.index} exited ({code}); restarting it"
              + (f" in {child.pause_s:g} s" if child.pause_s else ""), file=sys.stderr)
        child.proc = None

    def _send(self, signum: int) -> None:
        for child in self._children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signum)

    def _stop_all(self, signum: int) -> None:
        self._send(signum)
        for child in self._children:
            if child.proc is not None:
                child.proc.wait()

    def _drain(self) -> int:
        """Pass the stop signal on and wait: 0 when every worker exited 0."""
        self._send(signal.SIGTERM if self._signals[0] == signal.SIGTERM else signal.SIGINT)
        codes = [child.proc.wait() for child in self._children if child.proc is not None]
        return 0 if all(code == 0 for code in codes) else 1
