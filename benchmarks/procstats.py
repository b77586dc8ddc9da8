"""CPU time and memory of a process tree, read from /proc (Linux; no psutil needed)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from `state` on


def tree(root: int) -> list[int]:
    """`root` and every live descendant."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found.extend(frontier)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of the given live processes (all their threads)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def memory_kb(pid: int, field: str = "VmRSS") -> int:
    """`VmRSS` (now) or `VmHWM` (peak) of one process, in KiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def is_python(pid: int) -> bool:
    """Worker processes are Python; helpers (a shell, py-spy) are not counted for memory."""
    try:
        return "python" in Path(f"/proc/{pid}/comm").read_text() or "celery" in Path(
            f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False
