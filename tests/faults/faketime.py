"""A clock offset for the processes of one simulated host: libfaketime, preloaded.

Linux has no per-namespace realtime clock (a time namespace offsets only CLOCK_MONOTONIC and
CLOCK_BOOTTIME), so a host's offset is libfaketime (`faketime` Debian package) in the
LD_PRELOAD of each process started there: FAKETIME="+5.000" and
FAKETIME_DONT_FAKE_MONOTONIC=1, so time.time() is off while time.monotonic() is the
machine's, as on a real host whose wall clock is wrong.

libfaketime 0.9.10 (Debian 12) shifts deadlines on the monotonic clock in that mode: Python
3.11's time.sleep() fails (EINVAL) and the GIL's 5 ms wait ends too early or too late, so
threads thrash for it and sends stall by tens of ms (see monosleep.c). monosleep.so,
preloaded before it, hands waits on the monotonic clock straight to glibc. It is compiled
with gcc once per version of its source, into the harness's state directory.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
from pathlib import Path

from tests.faults.netns import STATE_DIR, machine_lock

LIBFAKETIME_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"
SHIM_SOURCE = Path(__file__).with_name("monosleep.c")


def libfaketime() -> str:
    found = sorted(glob.glob(LIBFAKETIME_GLOB))
    if not found:
        raise RuntimeError(f"no {LIBFAKETIME_GLOB}: a clock offset needs the `faketime` "
                           "package (scripts/bootstrap.sh installs it)")
    return found[0]


def sleep_fix() -> str:
    """monosleep.so, built on first use (under the machine lock: runs may race for it)."""
    source = SHIM_SOURCE.read_bytes()
    target = STATE_DIR / f"monosleep-{hashlib.sha256(source).hexdigest()[:12]}.so"
    with machine_lock():
        if not target.exists():
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            done = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(partial),
                                   str(SHIM_SOURCE)], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"cannot build {target.name}: {done.stderr.strip()}")
            partial.rename(target)
    return str(target)


def env_argv(offset_s: float) -> list[str]:
    """An `env ...` prefix that starts the command with its wall clock `offset_s` off."""
    if not offset_s:
        return []
    return ["env", f"LD_PRELOAD={sleep_fix()}:{libfaketime()}", f"FAKETIME={offset_s:+.3f}",
            "FAKETIME_DONT_FAKE_MONOTONIC=1"]
