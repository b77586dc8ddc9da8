"""`EmulatorProcess`: `python -m emulator` in a child process, for callers that must not share a
GIL with it (benchmarks, worker integration runs).

    with EmulatorProcess("--token", "t") as emu:
        EmulatorClient(emu.url).wait_for_requests(...)
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import IO, Self

READY_PREFIX = "emulator listening on "
STARTUP_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


class EmulatorProcess:
    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        # `--port 0` first: argparse keeps the last value, so a caller's --port wins.
        self.argv = [sys.executable, "-m", "emulator", "--port", "0", *args]
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S) -> Self:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True, env=self.env)
        assert self.proc.stdout is not None
        line = _first_line(self.proc.stdout, timeout_s)
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise RuntimeError(f"emulator did not start ({self.argv!r}); first line: {line!r}")
        self.url = line[len(READY_PREFIX) :].strip()
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _first_line(stream: IO[str], timeout_s: float) -> str:
    """readline() with a deadline (a thread, because select() does not see Python's buffer)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        return f"<nothing after {timeout_s:g} s>"
