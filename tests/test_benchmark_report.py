"""The load scripts' report: ratios paired by round, as the issues' targets are judged."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _harness import WrkResult  # noqa: E402
from bench_predict import RunRecord, format_ratio, round_ratios  # noqa: E402


def _run(round_index: int, variant: str, rps: float, errors: int = 0) -> RunRecord:
    wrk = WrkResult(
        requests=1000,
        duration_s=10.0,
        requests_per_sec=rps,
        latency_avg_ms=3.0,
        non_2xx_3xx=errors,
        socket_errors={"connect": 0, "read": 0, "write": 0, "timeout": 0},
    )
    return RunRecord(round_index, variant, "/ping/", 1.0, wrk)


def test_ratios_are_taken_within_each_round() -> None:
    # The machine slowed down by half in round 2: the ratio of medians over all rounds
    # would read 600 / 750 = 0.8, the paired rounds read 0.6 both times.
    records = [
        _run(1, "base", 1000.0),
        _run(1, "hooks", 600.0),
        _run(2, "hooks", 300.0),
        _run(2, "base", 500.0),
    ]
    assert round_ratios(records, "hooks", "base") == [0.6, 0.6]


def test_a_round_with_an_invalid_run_is_left_out() -> None:
    records = [
        _run(1, "base", 1000.0),
        _run(1, "hooks", 700.0),
        _run(2, "base", 1000.0),
        _run(2, "hooks", 900.0, errors=3),
        _run(3, "base", 1000.0, errors=1),
        _run(3, "hooks", 800.0),
    ]
    assert round_ratios(records, "hooks", "base") == [0.7]


def test_no_round_with_both_variants_gives_no_ratio() -> None:
    assert round_ratios([_run(1, "hooks", 700.0)], "hooks", "base") == []
    assert format_ratio(None, None, None) == "-"


def test_the_ratio_shows_its_median_and_range() -> None:
    assert format_ratio(0.634, 0.571, 0.713) == "0.63x (0.57-0.71)"
