"""``/stats/``: memory of this process and of the machine, as DRUM reports it."""

from __future__ import annotations

import os
import resource

__all__ = ["stats_body"]

_MB = 1024 * 1024


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return values


def _rss() -> int:
    try:
        with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def stats_body() -> dict[str, object]:
    mem = _meminfo()
    return {
        "mem_info": {
            "total": mem.get("MemTotal", 0) // _MB,
            "avail": mem.get("MemAvailable", 0) // _MB,
            "drum_rss": _rss() // _MB,
            "nwarmup": 0,
        }
    }
