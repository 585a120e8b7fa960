"""``/stats/``: memory of the machine and of this process, in DRUM's shape.

DRUM reads these with psutil; here they come from ``/proc`` (Linux), so the
answer is null where ``/proc`` is missing.  ``time_info`` is null, as in DRUM
without ``--show-perf`` (a flag drum-bridge refuses).  ``predict_calls`` is
drum-bridge's own: how many model calls scored how many ``/predict/`` requests
(adaptive batching).  ``usable_cpus`` is how many CPUs this process may keep busy.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

__all__ = ["PredictCalls", "ProcessStats", "usable_cpus"]

_MB = 1024.0 * 1024.0
_TIMING = {"min": None, "max": None, "avg": None, "total": None}


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may keep busy: those it may run on (its affinity, as
    ``taskset`` sets it), at most its cgroup's CPU quota rounded up (``cpu.max``, as a
    Kubernetes CPU limit sets it).  At least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to read: the affinity alone
    return max(1, cpus)


def _meminfo() -> dict[str, float]:
    values: dict[str, float] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            values[key] = int(rest.split()[0]) * 1024 / _MB
    except (OSError, ValueError, IndexError):
        pass
    return values


def _rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / _MB


def _cmdline() -> list[str]:
    try:
        return [part for part in Path("/proc/self/cmdline").read_bytes().decode().split("\0") if part]
    except OSError:
        return []


class PredictCalls:
    """Model calls of structured ``/predict/`` and the requests they answered."""

    def __init__(self) -> None:
        #: Whether adaptive batching serves this model (None: not decided yet).
        self.batching: bool | None = None
        self.model_calls = 0
        self.requests = 0
        #: Requests that shared their model call with others.
        self.batched_requests = 0
        self.largest_batch = 0
        #: Batched calls that failed as a whole, their requests then scored alone.
        self.batches_rescored_alone = 0
        #: ``--batching auto``'s check: "running", "passed", "failed" (None: no check).
        self.batching_check: str | None = None
        #: Requests of batched calls also scored alone by that check.
        self.checked_requests = 0

    def add(self, requests: int) -> None:
        """One model call that scored ``requests`` requests."""
        self.model_calls += 1
        self.requests += requests
        if requests > 1:
            self.batched_requests += requests
        self.largest_batch = max(self.largest_batch, requests)

    def body(self) -> dict[str, object]:
        return {
            "batching": self.batching,
            "model_calls": self.model_calls,
            "requests": self.requests,
            "batched_requests": self.batched_requests,
            "largest_batch": self.largest_batch,
            "batches_rescored_alone": self.batches_rescored_alone,
            "batching_check": self.batching_check,
            "checked_requests": self.checked_requests,
        }


class ProcessStats:
    """What ``/stats/`` answers; CPU use is measured between two calls, as psutil does."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), time.process_time())
        self.predict_calls = PredictCalls()

    def _cpu_percent(self) -> float:
        now = (time.monotonic(), time.process_time())
        wall, cpu = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        return round(100.0 * cpu / wall, 1) if wall > 0 else 0.0

    def body(self) -> dict[str, object]:
        mem = _meminfo()
        rss = _rss_mb()
        return {
            "mem_info": {
                "total": mem.get("MemTotal"),
                "avail": mem.get("MemAvailable"),
                "free": mem.get("MemFree"),
                "drum_rss": rss,
                "container_limit": None,
                "container_max_used": None,
                "container_used": None,
            },
            "drum_info": [
                {"pid": os.getpid(), "cmdline": _cmdline(), "mem": rss, "cpu_percent": self._cpu_percent()}
            ],
            "time_info": {"run_predictor_total": dict(_TIMING)},
            "predict_calls": self.predict_calls.body(),
        }
