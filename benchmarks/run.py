"""One runner for the load report: drum-bridge (with and without the migration guide's auth
extensions) side by side with real DRUM, every scenario, into ``benchmarks/results/<date>/``.

Per round, for each server setup (a model and its server options), each variant starts its
server pinned to ``--server-cpus``, passes a check request, then gets a wrk warm-up and a
measured closed-loop run per scenario (wrk pinned to ``--client-cpus``), and where the
scenario says so open-loop runs at 50/80/100 % of the req/s that closed-loop run measured
(``openloop.py``). Variants alternate, in reverse order every other round; ratios are paired
by round. Output: ``report.md`` (tables), ``results.json`` (every run), ``throughput.png``,
``latency.png`` and ``readme-table.md`` (the short table for the README).

    .venv/bin/python benchmarks/run.py --drum /work/drum-ref     # the full report (~75 min)
    .venv/bin/python benchmarks/run.py --quick --out /tmp/bench  # every scenario for a second

Exit status: 0 report written and every run valid, 1 report written but some run errored
or was invalid (the report marks it), 2 setup failure (no wrk, no drum-bridge, bad DRUM).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from _harness import BenchmarkError, exit_on_sigterm, find_drum_bridge
from measure import Measurement, OpenLoopPoint, Options, measure_setup
from model_dirs import build_model, write_csv
from plots import write_plots
from report import document, headline, markdown, summarize
from scenarios import Setup, Variant, payloads, standard_setups, standard_variants

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUICK = {"rounds": 1, "duration": 1.0, "warmup": 1.0, "open_duration": 0.5,
         "chat_clients": 8, "chat_chunks": 5, "chat_interval": 0.01}
FULL = {"rounds": 3, "duration": 10.0, "warmup": 3.0, "open_duration": 8.0,
        "chat_clients": 64, "chat_chunks": 20, "chat_interval": 0.05}
VERSION_PACKAGES = ("drum-bridge", "datarobot-drum", "fastapi", "starlette", "uvicorn", "uvloop",
                    "httptools", "flask", "gunicorn", "pandas", "numpy", "scikit-learn")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--drum", type=Path, help="a venv with datarobot-drum: adds real DRUM's variants")
    add("--drum-bridge", type=Path, help="drum-bridge console script (default: beside python)")
    add("--out", type=Path, help="report folder (default: benchmarks/results/<UTC date>)")
    add("--quick", action="store_true",
        help="every scenario for a second or so, one round: checks the runner, not speed")
    add("--rounds", type=int, help=f"rounds (default {FULL['rounds']}, quick {QUICK['rounds']})")
    add("--duration", type=float, help="seconds of each measured wrk run (default 10)")
    add("--warmup", type=float, help="seconds of each wrk warm-up (default 3)")
    add("--open-duration", type=float, help="seconds of each open-loop run (default 8)")
    add("--fractions", default="0.5,0.8,1.0", help="open-loop loads, fractions of capacity")
    add("--chat-clients", type=int, help="concurrent chat streams (default 64, quick 8)")
    add("--chat-chunks", type=int, help="chunks per stream (default 20)")
    add("--chat-interval", type=float, help="seconds between chunks (default 0.05)")
    add("--scenarios", help="comma-separated scenario names to keep (default: all)")
    add("--variants", help="comma-separated variant names to keep (default: all found)")
    add("--server-cpus", default="0", help="taskset CPUs of the server (default 0)")
    add("--client-cpus", default="1", help="taskset CPUs of the load (default 1)")
    add("--logging-level", default="warning",
        help="drum-bridge --logging-level (default warning; DRUM keeps its own default)")
    add("--model-python", help="interpreter that pickles the model (default: DRUM's, else this)")
    add("--ready-timeout", type=float, default=120.0, help="seconds to wait for GET /ping/")
    add("--stream-timeout", type=float, default=300.0, help="seconds one chat stream may take")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.fractions = tuple(float(f) for f in args.fractions.split(",") if f.strip())
    if args.rounds < 1 or args.duration < 1 or args.warmup < 1 or args.chat_clients < 1:
        parser.error("--rounds, --duration, --warmup (wrk counts whole seconds), --chat-clients >= 1")
    return args


def find_drum(venv: Path | None) -> str | None:
    if venv is None:
        return None
    drum = venv / "bin" / "drum"
    if not drum.exists():
        raise BenchmarkError(f"--drum {venv}: {drum} not found (a venv with datarobot-drum)")
    return str(drum)


def cpu_layout(args: argparse.Namespace) -> tuple[str | None, str | None, str | None]:
    """(server CPUs, load CPUs, all CPUs); no pinning where taskset or a second core is missing."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if not shutil.which("taskset") or count < 2:
        print("note: no taskset or a single core: server and load share the CPU", file=sys.stderr)
        return None, None, None
    cpus = sorted(os.sched_getaffinity(0))
    return args.server_cpus, args.client_cpus, ",".join(map(str, cpus))


def package_versions(python: Path) -> dict[str, str]:
    snippet = ("import importlib.metadata as m, json, sys\nout = {}\n"
               "for name in sys.argv[1:]:\n    try: out[name] = m.version(name)\n"
               "    except m.PackageNotFoundError: pass\nprint(json.dumps(out))")
    try:
        completed = subprocess.run([str(python), "-I", "-c", snippet, *VERSION_PACKAGES],
                                   capture_output=True, text=True, timeout=60, check=True)
        versions: dict[str, str] = json.loads(completed.stdout)
        return versions
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


def machine_info(bridge: str, drum: str | None) -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                      if line.startswith("model name")), platform.processor())
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (wrk.stdout or wrk.stderr).splitlines()[0]
    except (OSError, IndexError):
        wrk_version = "?"
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    return {
        "commit": commit,
        "cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(), "wrk": wrk_version,
        "bridge_versions": package_versions(Path(bridge).resolve().parent / "python"),
        "drum_versions": package_versions(Path(drum).parent / "python") if drum else {},
    }


def header_lines(args: argparse.Namespace, machine: dict[str, Any], started: str) -> list[str]:
    bridge, drum = machine["bridge_versions"], machine["drum_versions"]
    lines = [
        f"# drum-bridge load report, {started}",
        "",
        f"* Machine: {machine['cpu']}, {machine['cpus']} CPUs, Linux {machine['kernel']},"
        f" {machine['wrk']}.",
        f"* drum-bridge side (commit {machine['commit']}): "
        + ", ".join(f"{k} {v}" for k, v in bridge.items()) + ".",
    ]
    if drum:
        lines.append("* real DRUM side: " + ", ".join(f"{k} {v}" for k, v in drum.items()) + ".")
    lines += [
        f"* Run: `{' '.join(shlex.quote(a) for a in args.argv)}`: {args.rounds} round(s),"
        f" wrk {args.warmup:g} s warm-up + {args.duration:g} s measured, open loop"
        f" {args.open_duration:g} s at {', '.join(f'{f:.0%}' for f in args.fractions)} of the"
        f" measured capacity; server on CPU {args.server_cpus_used or 'any'}, load on CPU"
        f" {args.client_cpus_used or 'any'}; drum-bridge logging level {args.logging_level}.",
        "* Figures are medians over valid rounds; `range` is the lowest and highest round."
        " Ratios are paired by round (median and range) and above 1 favours the variant:"
        " req/s variant / peer, times and memory peer / variant. `vs DRUM` pairs each"
        " drum-bridge variant with real DRUM running the same hook (`drum-flask-auth` for both"
        " auth variants); `vs no extension` with the same server without an extension."
        " A **MARKED** row had a round whose server errored or answered errors: that round is"
        " left out of its median and ratios.",
    ]
    if args.quick:
        lines.append("* **--quick run: every scenario for about a second; the figures are not"
                     " measurements.**")
    return lines


def plan(args: argparse.Namespace, variants: list[Variant]) -> tuple[list[Variant], list[Setup]]:
    setups = standard_setups(args.chat_clients)
    if args.scenarios:
        wanted = {name.strip() for name in args.scenarios.split(",")}
        setups = [
            replace(s, scenarios=tuple(c for c in s.scenarios if c.name in wanted))
            for s in setups
        ]
        setups = [s for s in setups if s.scenarios]
    if args.variants:
        wanted = {name.strip() for name in args.variants.split(",")}
        variants = [v for v in variants if v.name in wanted]
    return variants, setups


def run_rounds(
    variants: list[Variant], setups: list[Setup], rounds: int, options: Options
) -> tuple[list[Measurement], list[OpenLoopPoint]]:
    measurements: list[Measurement] = []
    points: list[OpenLoopPoint] = []
    for round_index in range(1, rounds + 1):
        for setup in setups:
            # Real DRUM first in odd rounds, so that a drum-bridge variant's open-loop runs can
            # also be offered the loads DRUM was offered in this round (in even rounds: the
            # previous round's).
            admitted = sorted((v for v in variants if setup.admits(v)), key=lambda v: v.server != "drum")
            for variant in admitted if round_index % 2 else admitted[::-1]:
                found, more = measure_setup(variant, setup, round_index, options)
                measurements += found
                points += more
    return measurements, points


def _clean(value: Any) -> Any:
    """NaN and infinities as null, so results.json is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = ["benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)]
    exit_on_sigterm()
    started = datetime.datetime.now(datetime.timezone.utc)
    out_dir = args.out or RESULTS_DIR / started.strftime("%Y-%m-%d")
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk (Debian/Ubuntu)", file=sys.stderr)
        return 2
    try:
        bridge, drum = find_drum_bridge(args.drum_bridge), find_drum(args.drum)
    except BenchmarkError as error:
        print(f"setup failed: {error}", file=sys.stderr)
        return 2
    args.server_cpus_used, args.client_cpus_used, all_cpus = cpu_layout(args)
    variants, setups = plan(args, standard_variants(bridge, drum))
    scenarios = [s for setup in setups for s in setup.scenarios]
    if not variants or not scenarios:
        print("nothing to run: --variants or --scenarios matched none", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="drum_bridge_bench_") as tmp:
        workdir = Path(tmp)
        try:
            pickled = workdir / "model" / "model.pkl"
            python = args.model_python or (str(Path(drum).parent / "python") if drum else sys.executable)
            build_model(python, pickled.parent)
        except BenchmarkError as error:
            print(f"setup failed: {error}", file=sys.stderr)
            return 2
        options = Options(
            workdir=workdir, payloads=payloads(workdir, write_csv), pickled_model=pickled,
            duration=args.duration, warmup=args.warmup, open_duration=args.open_duration,
            fractions=args.fractions, server_cpus=args.server_cpus_used,
            client_cpus=args.client_cpus_used, all_cpus=all_cpus,
            logging_level=args.logging_level, ready_timeout=args.ready_timeout,
            chat_chunks=args.chat_chunks, chat_interval=args.chat_interval,
            stream_timeout=args.stream_timeout,
            peers={v.name: v.drum_peer for v in variants
                   if v.server == "bridge" and v.drum_peer in {w.name for w in variants}},
        )
        measurements, points = run_rounds(variants, setups, args.rounds, options)
    summary = summarize(measurements, points, variants, scenarios)
    machine = machine_info(bridge, drum)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config["variants"] = {v.name: v.command(setups[0], args.logging_level) for v in variants}
    (out_dir / "results.json").write_text(
        json.dumps(_clean(document(config, machine, measurements, points, summary)), indent=1) + "\n"
    )
    plots = write_plots(summary, [v.name for v in variants], out_dir)
    text = markdown(summary, scenarios, header_lines(args, machine, started.strftime("%Y-%m-%d %H:%M UTC")))
    if plots:
        text += "\n## Plots\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in plots) + "\n"
    else:
        text += "\n(no plots: matplotlib is not installed in this interpreter)\n"
    (out_dir / "report.md").write_text(text)
    # The README's "Load report" section: the short table, the machine, one plot.
    short_machine = header_lines(args, machine, started.strftime("%Y-%m-%d %H:%M UTC"))[2:5]
    (out_dir / "readme-table.md").write_text(headline(
        summary, scenarios, "\n".join(short_machine),
        f"benchmarks/results/{out_dir.name}/throughput.png",
    ))
    print(f"\nreport written to {out_dir}/report.md (results.json, {len(plots)} plot(s))")
    failed = any(not m.valid for m in measurements) or any(p.result["errors"] for p in points)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
