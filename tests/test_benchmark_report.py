"""The load scripts' report: ratios paired by round, as the issues' targets are judged."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _harness import WrkResult, parse_wrk_output  # noqa: E402
from procstat import PeakRss, process_rss_kib  # noqa: E402
from stats import RunRecord, format_ratio, round_ratios  # noqa: E402


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


WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8080/ping/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.52ms    1.20ms  40.00ms   90.00%
    Req/Sec     9.10k   500.00    10.00k    70.00%
  Latency Distribution
     50%    3.10ms
     75%    3.90ms
     90%    5.00ms
     99%    1.20s
  91000 requests in 10.00s, 12.00MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   9100.00
Transfer/sec:      1.20MB
"""


def test_wrk_latency_distribution_is_read() -> None:
    result = parse_wrk_output(WRK_OUTPUT)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (3.1, 5.0, 1200.0)
    assert (result.requests, result.non_2xx_3xx, result.valid) == (91000, 7, False)


def test_without_latency_distribution_the_percentiles_are_nan() -> None:
    text = "\n".join(line for line in WRK_OUTPUT.splitlines() if "%" not in line or "Stdev" in line)
    assert math.isnan(parse_wrk_output(text).p99_ms)


def test_peak_rss_counts_the_children_of_the_server() -> None:
    alone = process_rss_kib(os.getpid())
    sampler = PeakRss(os.getpid(), interval_s=0.02).start()
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = bytearray(96 << 20); sys.stdin.read()"],
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while sampler.peak_kib < alone + (90 << 10) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sampler.mark() >= alone + (90 << 10)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
        sampler.stop()
