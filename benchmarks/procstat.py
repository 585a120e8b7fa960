"""What a server's processes use, read from Linux /proc: CPU time and resident memory.

A server under test may be a supervising parent with forked workers (drum-bridge, gunicorn):
everything here counts the whole process tree below the pid the harness started.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_cpu_list(text: str) -> list[int]:
    """CPU numbers of a taskset list such as ``0``, ``0,2`` or ``0-3``."""
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        cpus += range(int(first), int(last or first) + 1)
    return cpus


def cpu_busy_s(cpus: list[int]) -> float:
    """Seconds ``cpus`` spent in user, nice and system mode since boot."""
    wanted = {f"cpu{cpu}" for cpu in cpus}
    total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name in wanted:
            total += sum(int(tick) for tick in ticks[:3])
    return total / _CLOCK_TICKS


def process_cpu_s(pid: int) -> float:
    """User and system seconds of process ``pid``, all its threads (not its children)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_tree(pid: int) -> set[int]:
    """``pid`` and every process below it (a server's workers), as they are right now."""
    parents: dict[int, int] = {}
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue  # the process ended meanwhile
        parents[int(stat_path.parent.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree = {pid}
    grew = True
    while grew:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return tree


def _tree_sum(pid: int, measure: Callable[[int], float]) -> float:
    """``measure`` summed over ``pid`` and every process below it (gone ones count 0)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += measure(member)
        except OSError:
            pass  # the process ended meanwhile
    return total


def process_tree_cpu_s(pid: int) -> float:
    """``process_cpu_s`` of ``pid`` and of every process below it."""
    return _tree_sum(pid, process_cpu_s)


def process_rss_kib(pid: int) -> int:
    """Resident set size of one process (``VmRSS``), 0 for a process without memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def process_tree_rss_kib(pid: int) -> int:
    """Summed RSS of ``pid`` and every process below it (shared pages counted per process)."""
    return int(_tree_sum(pid, process_rss_kib))


@dataclass
class PeakRss:
    """Samples a process tree's RSS in a thread; ``peak_kib`` is the highest sum seen.

    ``mark()`` starts a new window: ``window_peak_kib`` is the highest sum since the last
    mark, so one sampler serves every scenario a server runs.
    """

    pid: int
    interval_s: float = 0.1
    peak_kib: int = 0
    window_peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        try:
            rss = process_tree_rss_kib(self.pid)
        except OSError:
            return
        self.peak_kib = max(self.peak_kib, rss)
        self.window_peak_kib = max(self.window_peak_kib, rss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> PeakRss:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def mark(self) -> int:
        """End the current window: return its peak and start a new one."""
        self._sample()
        peak, self.window_peak_kib = self.window_peak_kib, 0
        return peak

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.peak_kib


@dataclass
class ForeignCpu:
    """CPU time used on ``cpus`` by anything but process ``pid`` and its children.

    Start it just before a measured run and call ``stop`` right after: ``share``
    is then how much of one CPU other processes took from a server pinned to
    ``cpus`` (0.0 on a quiet machine, 1.0 = a whole CPU); the server's own worker
    processes count as the server.  Interrupt time is left out on both sides.
    """

    cpus: list[int]
    pid: int
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    share: float = float("nan")

    def _sample(self) -> tuple[float, float, float]:
        return time.monotonic(), cpu_busy_s(self.cpus), process_tree_cpu_s(self.pid)

    def start(self) -> ForeignCpu:
        self._start = self._sample()
        return self

    def stop(self) -> float:
        wall, busy, own = (
            end - begin for end, begin in zip(self._sample(), self._start, strict=True)
        )
        self.share = max(0.0, busy - own) / wall if wall > 0 else float("nan")
        return self.share
