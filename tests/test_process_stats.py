"""process_stats.py: how many CPUs the process may keep busy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drum_bridge.process_stats import usable_cpus


@pytest.fixture
def affinity(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    return 4


@pytest.mark.parametrize(("cpu_max", "expected"), [
    ("max 100000\n", 4),         # no quota: the affinity
    ("150000 100000\n", 2),      # 1.5 CPUs of quota: rounded up
    ("50000 100000\n", 1),       # half a CPU: at least 1
    ("800000 100000\n", 4),      # more quota than CPUs to run on
    ("garbage\n", 4),            # unreadable: the affinity
])
def test_the_cgroup_quota_bounds_the_affinity(
    tmp_path: Path, affinity: int, cpu_max: str, expected: int
) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert usable_cpus(tmp_path) == expected


def test_without_a_cgroup_file_the_affinity_alone(tmp_path: Path, affinity: int) -> None:
    assert usable_cpus(tmp_path / "missing") == affinity


def test_this_process_can_use_at_least_one_cpu() -> None:
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)
