"""What the Linux kernel tells about a process, for the benchmarks and `sim national`: its
children, its CPU seconds (/proc/<pid>/stat, proc(5) fields 14 and 15) and its peak resident
set (VmHWM in /proc/<pid>/status, reset through /proc/<pid>/clear_refs, Linux ≥ 4.0)."""

from __future__ import annotations

import contextlib
import os
import re

__all__ = ["children", "cpu_of", "peak_kib", "reset_peak"]

_TICK = os.sysconf("SC_CLK_TCK")


def children() -> list[int]:
    """The process ids of this process's live children (a pool's workers)."""
    me = os.getpid()
    out = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == me:
                    out.append(int(name))
    return out


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process `pid` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def peak_kib(pid: int | str, what: str = "VmHWM") -> int:
    """VmHWM (peak resident set; or another size, e.g. VmRSS) of a process in KiB, 0 if
    unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            found = re.search(what + r":\s+(\d+)", f.read())
        return int(found.group(1)) if found else 0
    except OSError:
        return 0


def reset_peak(pid: int | str) -> None:
    """Start a new peak: VmHWM falls back to the current resident set."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
