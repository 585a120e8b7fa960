"""Figures every benchmark reports: medians of valid runs, ratios paired by round, percentiles.

Shared by ``run.py`` and the single-purpose scripts (``bench_predict.py``, ``bench_hooks.py``,
``bench_llm.py``) so that all of them judge a run, pair two variants and print a ratio the
same way.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from _harness import WrkResult


@dataclass(frozen=True)
class RunRecord:
    """One measured wrk run of one variant, in one round, for one payload or scenario."""

    round: int
    variant: str
    payload: str
    server_ready_s: float
    wrk: WrkResult

    def as_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "variant": self.variant,
            "payload": self.payload,
            "server_ready_s": round(self.server_ready_s, 3),
            **self.wrk.as_dict(),
        }


@dataclass(frozen=True)
class Ratio:
    """A ratio paired by round: the median over rounds, its range and how many rounds paired."""

    median: float | None
    low: float | None
    high: float | None
    pairs: int

    @classmethod
    def of(cls, ratios: list[float]) -> Ratio:
        if not ratios:
            return cls(None, None, None, 0)
        return cls(statistics.median(ratios), min(ratios), max(ratios), len(ratios))

    def __str__(self) -> str:
        return format_ratio(self.median, self.low, self.high)


def median_rps(results: Iterable[WrkResult]) -> float | None:
    """Median req/s over the valid runs; None when no run was valid."""
    valid = [r.requests_per_sec for r in results if r.valid]
    return statistics.median(valid) if valid else None


def paired_ratios(by_round: dict[int, dict[str, float]], variant: str, baseline: str) -> list[float]:
    """``variant``'s value over ``baseline``'s, for every round that has both (baseline > 0)."""
    return [
        values[variant] / values[baseline]
        for values in by_round.values()
        if variant in values and values.get(baseline)
    ]


def round_ratios(records: list[RunRecord], variant: str, baseline: str) -> list[float]:
    """``variant``'s req/s over ``baseline``'s, per round where both runs are valid.

    Pairing the runs of a round cancels the drift of a shared machine between
    rounds, which a ratio of medians taken over all rounds would keep.
    """
    by_round: dict[int, dict[str, float]] = {}
    for record in records:
        if record.wrk.valid:
            by_round.setdefault(record.round, {})[record.variant] = record.wrk.requests_per_sec
    return paired_ratios(by_round, variant, baseline)


def format_ratio(median: float | None, low: float | None, high: float | None) -> str:
    """``0.64x (0.61-0.66)``: the median ratio over rounds and its range."""
    if median is None or low is None or high is None:
        return "-"
    return f"{median:.2f}x ({low:.2f}-{high:.2f})"


def describe(result: WrkResult) -> str:
    """One line for the progress output: req/s, latency, and why a run is invalid."""
    text = f"{result.requests_per_sec:9.1f} req/s"
    text += f", avg latency {result.latency_avg_ms:.1f} ms"
    if not math.isnan(result.p99_ms):
        text += f", p99 {result.p99_ms:.1f} ms"
    if not result.valid:
        text += f"  INVALID: non-2xx/3xx={result.non_2xx_3xx}"
        text += f", socket errors={result.socket_errors}"
    return text


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; nan without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median_or_none(values: Iterable[float]) -> float | None:
    """Median of the values that are numbers (not nan); None when there is none."""
    kept = [v for v in values if not math.isnan(v)]
    return statistics.median(kept) if kept else None
