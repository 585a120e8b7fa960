"""PNG plots of a ``run.py`` report, made with matplotlib (Agg, no display needed).

* ``throughput.png``: one panel per scenario, a bar per variant (median over valid rounds,
  the whisker spans the lowest and highest round); a scenario that errored shows no bar
  and says ERROR.
* ``latency.png``: one panel per open-loop scenario, p99 latency against the offered rate
  (50/80/100 % of each server's capacity), a line per variant; hollow markers are points
  where the load generator could not keep to its schedule.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from report import LoadRow, Row, Summary

UNIT_LABELS = {"req/s": "req/s (higher is better)", "ms": "TTFC p99, ms (lower is better)",
               "s": "seconds (lower is better)", "MiB": "MiB (lower is better)"}


def _panels(count: int) -> tuple[Any, list[Any]]:
    """A figure with ``count`` panels, four to a row; the panels in order."""
    import matplotlib.pyplot as plt

    ncols = min(4, max(1, count))
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for spare in flat[count:]:
        spare.axis("off")
    return fig, flat[:count]


def _save(fig: Any, title: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(summary: Summary, variants: list[str], out_dir: Path) -> list[Path]:
    """Write the plots; return their paths (none when matplotlib is missing)."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    written = [_throughput(summary.rows, variants, out_dir / "throughput.png")]
    if summary.loads:
        written.append(_latency(summary.loads, variants, out_dir / "latency.png"))
    return written


def _colors(variants: list[str]) -> dict[str, object]:
    import matplotlib.pyplot as plt

    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {name: cycle[index % len(cycle)] for index, name in enumerate(variants)}


def _throughput(rows: list[Row], variants: list[str], path: Path) -> Path:
    scenarios = list(dict.fromkeys(row.scenario for row in rows))
    fig, panels = _panels(len(scenarios))
    colors = _colors(variants)
    for ax, scenario in zip(panels, scenarios, strict=True):
        mine = [row for row in rows if row.scenario == scenario]
        names = [row.variant for row in mine]
        heights = [row.value or 0.0 for row in mine]
        low = [(row.value - row.low) if row.value is not None and row.low is not None else 0.0
               for row in mine]
        high = [(row.high - row.value) if row.value is not None and row.high is not None else 0.0
                for row in mine]
        positions = range(len(mine))
        ax.bar(positions, heights, yerr=[low, high], capsize=3,
               color=[colors.get(name, "grey") for name in names])
        for position, row in zip(positions, mine, strict=True):
            if row.value is None:
                ax.text(position, 0, "ERROR", ha="center", va="bottom", color="red", rotation=90)
            elif row.marked:
                ax.text(position, row.value, "!", ha="center", va="bottom", color="red")
        ax.set_xticks(list(positions))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
        ax.set_title(scenario, fontsize=9)
        ax.set_ylabel(UNIT_LABELS.get(mine[0].unit, mine[0].unit), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    return _save(fig, "drum-bridge vs real DRUM: median over rounds, whiskers = range", path)


def _latency(loads: list[LoadRow], variants: list[str], path: Path) -> Path:
    from matplotlib.ticker import ScalarFormatter

    scenarios = list(dict.fromkeys(load.scenario for load in loads))
    fig, panels = _panels(len(scenarios))
    colors = _colors(variants)
    for ax, scenario in zip(panels, scenarios, strict=True):
        for variant in variants:
            mine = sorted(
                (load for load in loads if (load.scenario, load.variant) == (scenario, variant)
                 and load.offered_rps is not None and load.p99_ms is not None),
                key=lambda load: load.offered_rps or 0.0,
            )
            if not mine:
                continue
            xs = [load.offered_rps or 0.0 for load in mine]
            ys = [load.p99_ms or 0.0 for load in mine]
            color = colors.get(variant, "grey")
            ax.plot(xs, ys, "-", color=color, label=variant)
            for x, y, load in zip(xs, ys, mine, strict=True):
                face = "none" if load.client_bound else color
                ax.plot([x], [y], "o", color=color, markerfacecolor=face)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlim(left=0)
        ax.set_title(scenario, fontsize=9)
        ax.set_xlabel("offered req/s", fontsize=7)
        ax.set_ylabel("p99 latency, ms", fontsize=7)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    return _save(fig, "Open loop: p99 latency vs offered load (50/80/100 % of each server's"
                 " capacity); hollow marker = the load generator fell behind its schedule", path)
