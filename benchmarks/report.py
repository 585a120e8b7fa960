"""``run.py``'s report: the summary rows, the issue's targets, Markdown and JSON.

Every figure is a median over the rounds whose run was valid; the range beside it is the
lowest and highest of those rounds (the noise of the machine). Ratios are paired by round
(``stats.paired_ratios``) and oriented so that above 1 always favours the variant: req/s
are divided variant over peer, times and memory peer over variant. A run whose server
errored (did not start, failed its check, died) or that had error answers is counted in
``runs`` but not in any median or ratio, and the row says so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from measure import KIND_UNITS, Measurement, OpenLoopPoint
from scenarios import Scenario, Variant
from stats import Ratio, median_or_none, paired_ratios

#: Share of the server's CPU other processes may take during a run before the row says so.
OTHER_CPU_WARNING = 0.10
HIGHER_IS_BETTER = {"wrk": True, "streams": False, "startup": False, "peak_rss": False}


@dataclass
class Row:
    scenario: str
    variant: str
    kind: str
    unit: str
    value: float | None
    low: float | None
    high: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    errors: int
    valid_runs: int
    runs: int
    rss_mib: float | None
    vs_drum: Ratio
    vs_plain: Ratio
    note: str = ""
    #: The most CPU other processes took from the server's CPUs during a measured run.
    other_cpu: float | None = None

    @property
    def marked(self) -> bool:
        return self.valid_runs < self.runs


@dataclass
class LoadRow:
    """Open loop: one scenario, variant and fraction of capacity, medians over rounds."""

    scenario: str
    variant: str
    fraction: float
    offered_rps: float | None
    achieved_rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    errors: int
    rounds: int
    client_bound: int
    #: Whose capacity ``fraction`` is of: ``own``, or the real-DRUM variant's name.
    basis: str = "own"


@dataclass
class Target:
    what: str
    variant: str
    goal: str
    measured: str
    verdict: str  # PASS, FAIL, NO DATA


@dataclass
class Summary:
    rows: list[Row]
    loads: list[LoadRow]
    targets: list[Target] = field(default_factory=list)

    def row(self, scenario: str, variant: str) -> Row | None:
        return next((r for r in self.rows if (r.scenario, r.variant) == (scenario, variant)), None)


def _plain_peer(variant: Variant) -> str:
    return "bridge" if variant.server == "bridge" else "drum"


def _ratio(by_round: dict[int, dict[str, float]], variant: str, peer: str | None, higher: bool) -> Ratio:
    if peer is None or peer == variant:
        return Ratio.of([])
    ratios = paired_ratios(by_round, variant, peer) if higher else paired_ratios(by_round, peer, variant)
    return Ratio.of(ratios)


def _note(runs: list[Measurement]) -> str:
    failed = [m for m in runs if m.error]
    invalid = [m for m in runs if not m.error and not m.valid]
    empty = [m for m in invalid if not m.errors]
    invalid = [m for m in invalid if m.errors]
    parts = []
    if empty:
        parts.append(f"{len(empty)}/{len(runs)} run(s) completed no request, left out")
    if failed:
        parts.append(f"ERROR in {len(failed)}/{len(runs)} round(s): {failed[0].error}")
    if invalid:
        parts.append(f"{len(invalid)}/{len(runs)} run(s) with error answers, left out")
    return "; ".join(parts)


def summarize(
    measurements: list[Measurement],
    points: list[OpenLoopPoint],
    variants: list[Variant],
    scenarios: list[Scenario],
) -> Summary:
    rows = []
    for scenario in scenarios:
        mine = [m for m in measurements if m.scenario == scenario.name]
        by_round: dict[int, dict[str, float]] = {}
        for m in mine:
            if m.valid and m.value is not None:
                by_round.setdefault(m.round, {})[m.variant] = m.value
        higher = HIGHER_IS_BETTER[scenario.kind]
        for variant in variants:
            runs = [m for m in mine if m.variant == variant.name]
            if not runs:
                continue
            valid = [m for m in runs if m.valid and m.value is not None]
            values = [m.value for m in valid if m.value is not None]
            rss = [m.rss_kib / 1024 for m in valid if m.rss_kib]
            rows.append(Row(
                scenario=scenario.name, variant=variant.name, kind=scenario.kind,
                unit=KIND_UNITS[scenario.kind],
                value=statistics.median(values) if values else None,
                low=min(values, default=None), high=max(values, default=None),
                p50_ms=median_or_none(m.p50_ms for m in valid),
                p90_ms=median_or_none(m.p90_ms for m in valid),
                p99_ms=median_or_none(m.p99_ms for m in valid),
                errors=sum(m.errors for m in runs), valid_runs=len(valid), runs=len(runs),
                rss_mib=statistics.median(rss) if rss else None,
                vs_drum=_ratio(by_round, variant.name, variant.drum_peer, higher),
                vs_plain=_ratio(by_round, variant.name, _plain_peer(variant), higher),
                note=_note(runs),
                other_cpu=max((m.detail["other_cpu_share"] for m in runs
                               if "other_cpu_share" in m.detail), default=None),
            ))
    summary = Summary(rows, summarize_loads(points, variants, scenarios))
    summary.targets = targets(summary, variants)
    return summary


def summarize_loads(
    points: list[OpenLoopPoint], variants: list[Variant], scenarios: list[Scenario]
) -> list[LoadRow]:
    rows = []
    fractions = sorted({p.fraction for p in points})
    bases = ["own", *sorted({p.basis for p in points} - {"own"})]
    for scenario in scenarios:
        for variant in variants:
            for basis in bases:
                for fraction in fractions:
                    mine = [p.result for p in points if (p.scenario, p.variant, p.basis, p.fraction)
                            == (scenario.name, variant.name, basis, fraction)]
                    if mine:
                        rows.append(_load_row(scenario.name, variant.name, basis, fraction, mine))
    return rows


def _load_row(
    scenario: str, variant: str, basis: str, fraction: float, results: list[dict[str, Any]]
) -> LoadRow:
    """Medians over rounds; latency only from the runs without error answers."""
    clean = [r for r in results if not r["errors"]]

    def med(key: str, pool: Iterable[dict[str, Any]] = clean) -> float | None:
        return median_or_none(float(r[key]) for r in pool if r[key] is not None)

    return LoadRow(
        scenario, variant, fraction, med("target_rate", results), med("achieved_rps"),
        med("p50_ms"), med("p90_ms"), med("p99_ms"), sum(int(r["errors"]) for r in results),
        len(results), sum(bool(r["client_bound"]) for r in results), basis,
    )


#: The issue's throughput floors: drum-bridge (no extension) over real DRUM, one worker each.
RATIO_TARGETS = {"predict_5": 1.5, "predict_10k": 1.2, "io_wait_32": 10.0}
TTFC_P99_TARGET_MS = 100.0


def _verdict(ok: bool | None) -> str:
    return "NO DATA" if ok is None else ("PASS" if ok else "FAIL")


def targets(summary: Summary, variants: list[Variant]) -> list[Target]:
    names = {v.name for v in variants}
    found: list[Target] = []
    if "bridge" not in names:
        return found
    has_drum = "drum" in names
    for scenario, floor in RATIO_TARGETS.items():
        row = summary.row(scenario, "bridge")
        if row is None or not has_drum:
            continue
        ratio = row.vs_drum
        found.append(Target(f"{scenario} req/s vs DRUM", "bridge", f">= {floor:g}x", str(ratio),
                            _verdict(None if ratio.median is None else ratio.median >= floor)))
    chat = summary.row("chat_stream", "bridge")
    if chat is not None:
        found.append(Target("chat time to first chunk p99", "bridge",
                            f"< {TTFC_P99_TARGET_MS:g} ms", _fmt(chat.value, "ms"),
                            _verdict(None if chat.value is None else chat.value < TTFC_P99_TARGET_MS)))
    rss = summary.row("peak_rss", "bridge")
    if rss is not None and has_drum:
        ok = None if rss.vs_drum.median is None else rss.vs_drum.median >= 1.0
        found.append(Target("peak RSS <= DRUM's (DRUM's / ours)", "bridge", ">= 1.00x",
                            str(rss.vs_drum), _verdict(ok)))
    if has_drum:
        for variant in variants:
            if variant.server == "bridge" and variant.drum_peer:
                found += p99_targets(summary, variant.name, variant.drum_peer)
    return found


def p99_targets(summary: Summary, variant: str, peer: str) -> list[Target]:
    """p99 <= DRUM's at the same offered load: our runs at the loads DRUM was offered.

    At each fraction of DRUM's capacity, our median p99 against DRUM's own at that fraction.
    A point where either load generator fell behind its schedule makes the verdict UNSURE
    (the latency is partly the client's); error answers or a missing point fail.
    """
    found = []
    for scenario in sorted({r.scenario for r in summary.loads}):
        theirs = {r.fraction: r for r in summary.loads
                  if (r.scenario, r.variant, r.basis) == (scenario, peer, "own")}
        ours = {r.fraction: r for r in summary.loads
                if (r.scenario, r.variant, r.basis) == (scenario, variant, peer)}
        if not theirs:
            continue
        verdict, worst = "PASS", []
        for fraction, point in sorted(theirs.items()):
            mine = ours.get(fraction)
            if mine is None or mine.p99_ms is None or point.p99_ms is None:
                if verdict != "FAIL":
                    verdict = "FAIL" if mine is not None and mine.errors else "NO DATA"
                worst.append(f"{fraction:.0%}: no valid point")
                continue
            worst.append(f"{fraction:.0%} ({point.offered_rps or 0:.0f}/s): {mine.p99_ms:.1f}"
                         f" vs {point.p99_ms:.1f} ms")
            if mine.p99_ms > point.p99_ms:
                verdict = "FAIL"
            if (mine.client_bound or point.client_bound) and verdict == "PASS":
                verdict = "UNSURE (client-bound)"
        found.append(Target(f"{scenario} open-loop p99 <= {peer}'s at {peer}'s loads", variant,
                            "<=", "; ".join(worst), verdict))
    return found


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "req/s":
        return f"{value:,.1f}"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:,.1f} ms" if value < 1000 else f"{value:,.0f} ms"


def _ms(value: float | None) -> str:
    return _fmt(value, "ms").replace(" ms", "")


def markdown(summary: Summary, scenarios: list[Scenario], header: list[str]) -> str:
    titles = {s.name: s.title for s in scenarios}
    lines = [*header, "", "## Scenarios", ""]
    lines += [
        "| scenario | variant | value (median) | range over rounds | p50 ms | p90 ms | p99 ms"
        " | errors | valid/runs | peak RSS MiB | vs DRUM | vs no extension | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in summary.rows:
        value = _fmt(row.value, row.unit) if row.value is not None else "**ERROR**"
        unit = " req/s" if row.unit == "req/s" and row.value is not None else ""
        spread = (f"{_fmt(row.low, row.unit)} - {_fmt(row.high, row.unit)}"
                  if row.low is not None else "-")
        rss = f"{row.rss_mib:,.0f}" if row.rss_mib else "-"
        mark = "**MARKED** " if row.marked else ""
        if row.other_cpu is not None and row.other_cpu > OTHER_CPU_WARNING:
            mark += f"other processes took up to {row.other_cpu:.0%} of the server's CPU; "
        lines.append(
            f"| {row.scenario} | {row.variant} | {value}{unit} | {spread} | {_ms(row.p50_ms)}"
            f" | {_ms(row.p90_ms)} | {_ms(row.p99_ms)} | {row.errors} | {row.valid_runs}/{row.runs}"
            f" | {rss} | {row.vs_drum} | {row.vs_plain} | {mark}{row.note} |"
        )
    lines += ["", "Scenarios:", ""]
    lines += [f"* `{name}`: {title}" for name, title in titles.items()]
    if summary.loads:
        lines += [
            "", "## Open loop: latency at a fixed arrival rate", "",
            "| scenario | variant | load | offered req/s | achieved req/s | p50 ms | p90 ms"
            " | p99 ms | errors | rounds | client-bound |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for load in summary.loads:
            lines.append(
                f"| {load.scenario} | {load.variant} | {load.fraction:.0%} of {load.basis}"
                f" | {_fmt(load.offered_rps, 'req/s')} | {_fmt(load.achieved_rps, 'req/s')}"
                f" | {_ms(load.p50_ms)} | {_ms(load.p90_ms)} | {_ms(load.p99_ms)} | {load.errors}"
                f" | {load.rounds} | {load.client_bound or ''} |"
            )
    if summary.targets:
        lines += ["", "## Targets (issue 12)", "", "| target | variant | goal | measured | result |",
                  "|---|---|---|---|---|"]
        lines += [f"| {t.what} | {t.variant} | {t.goal} | {t.measured} | {t.verdict} |"
                  for t in summary.targets]
    return "\n".join(lines) + "\n"


def document(
    config: dict[str, Any],
    machine: dict[str, Any],
    measurements: list[Measurement],
    points: list[OpenLoopPoint],
    summary: Summary,
) -> dict[str, Any]:
    def row_dict(row: Row) -> dict[str, Any]:
        return {**asdict(row), "marked": row.marked}

    return {
        "config": config,
        "machine": machine,
        "measurements": [m.as_dict() for m in measurements],
        "open_loop": [p.as_dict() for p in points],
        "summary": [row_dict(r) for r in summary.rows],
        "open_loop_summary": [asdict(r) for r in summary.loads],
        "targets": [asdict(t) for t in summary.targets],
    }


def headline(summary: Summary, scenarios: list[Scenario], machine_line: str, plot: str) -> str:
    """The README's short form: drum-bridge (no extension) against real DRUM, one row a scenario."""
    lines = [
        "| scenario | drum-bridge | real DRUM 1.18.1 | drum-bridge vs DRUM (range over rounds) |",
        "|---|---:|---:|---:|",
    ]
    for scenario in scenarios:
        ours, theirs = summary.row(scenario.name, "bridge"), summary.row(scenario.name, "drum")
        if ours is None:
            continue

        def cell(row: Row | None) -> str:
            if row is None:
                return "-"
            if row.value is None:
                return "ERROR"
            text = _fmt(row.value, row.unit) + (" req/s" if row.unit == "req/s" else "")
            if row.unit == "req/s" and row.p99_ms is not None:
                text += f", p99 {_fmt(row.p99_ms, 'ms')}"
            return text + (" (marked)" if row.marked else "")

        lines.append(f"| {scenario.title} | {cell(ours)} | {cell(theirs)} | {ours.vs_drum} |")
    lines += ["", machine_line, "", f"![throughput per scenario]({plot})"]
    return "\n".join(lines) + "\n"
