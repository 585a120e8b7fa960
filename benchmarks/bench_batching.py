"""Adaptive batching and model threads: POST /predict/ against real DRUM and against the floor.

Variants, one worker each, the server pinned to ``--server-cpus`` and wrk to ``--client-cpus``:

* ``drum``: real ``drum server`` from ``--drum VENV`` (its defaults), when given;
* ``auto-tN`` / ``on-tN`` / ``off-tN``: drum-bridge with ``--batching auto|on|off
  --model-threads N`` for every setting of ``--batching`` (default ``auto,off``) and every N
  of ``--threads`` (default ``1,2,4,ncpu``: ncpu is the CPUs the server may use).

Payloads: 5 rows at ``--connections`` (32) and 10,000 rows at ``--big-connections`` (8).

**The floor** is the same parse + predict + serialise work (``LoadedModel.predict`` on the
same CSV bytes) timed in-process, in a subprocess pinned to the server's first CPU, one call
at a time, with malloc set as the server's workers set it (``--keep-freed-memory``), right
before and right after each drum-bridge run, the server idle, and the mean of the two taken
(this machine's speed drifts by a third within minutes, so a floor taken once would not pair
with a run minutes later, and one taken on one side only pairs less well).  **Efficiency** of a
run = its req/s x that floor's seconds per request; the table gives the median
and range over rounds.  1.0 means the server adds nothing around the model (batching can pass
1.0: it pays the model's fixed cost once per batch).

Rounds interleave the variants (DRUM first in each round, the others in reverse order every
other round); ratios are paired by round (median and range).  After each drum-bridge run,
``/stats/`` gives the model calls, hence the mean batch size.  With ``--open-loop S``, each
drum-bridge variant is also offered DRUM's latest req/s open-loop for S seconds (its p99 is
the "p99 at the same offered load" of issue 13).

``--quick`` runs one round of 1 s runs (a smoke test; its figures are not measurements).
Run ``python benchmarks/bench_batching.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _harness import (
    BenchmarkError,
    WrkConfig,
    WrkRequest,
    exit_on_sigterm,
    find_drum_bridge,
    http_request,
    run_wrk,
    running_server,
    write_wrk_script,
)
from model_dirs import CSV_HEADERS, build_model, server_command, write_csv
from stats import RunRecord, describe, format_ratio, median_or_none, median_rps, round_ratios

OPENLOOP_SCRIPT = Path(__file__).resolve().parent / "openloop.py"
#: Payload name -> rows.
PAYLOADS = {"5_rows": 5, "10k_rows": 10_000}


@dataclass(frozen=True)
class Variant:
    name: str
    command: str
    #: drum-bridge's settings (None for real DRUM).
    batching: str | None = None
    threads: int | None = None


@dataclass(frozen=True)
class Payload:
    name: str
    rows: int
    csv: Path
    script: Path
    connections: int


@dataclass
class Extra:
    """What a run adds to wrk's figures: drum-bridge's model calls, the open-loop point."""

    model_calls: int | None = None
    requests: int | None = None
    open_loop: dict[str, Any] | None = None
    #: In-process seconds a request: the mean of the floors timed right before and right
    #: after this run, the server idle (drum-bridge runs only).
    floor_s: float | None = None
    #: The two floors it is the mean of.
    floors_s: tuple[float, float] | None = None


@dataclass
class Row:
    payload: str
    variant: str
    median_rps: float | None
    p99_ms: float | None
    valid_runs: int
    total_runs: int
    vs_drum: str
    efficiency: float | None
    efficiency_range: str
    mean_batch: float | None
    open_p99_ms: float | None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# The floor
# --------------------------------------------------------------------------

FLOOR_SNIPPET = """
import json, sys, time
from pathlib import Path
from drum_bridge import Config, TargetType
from drum_bridge.model.payload import Payload
from drum_bridge.model.predictor import load_model
from drum_bridge.server.process import keep_freed_memory

keep_freed_memory()  # malloc as the server's workers set it (--keep-freed-memory, on by default)
code_dir, csv_path, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
model = load_model(Config(code_dir=code_dir, target_type=TargetType.REGRESSION))
payload = Payload(data=csv_path.read_bytes(), mimetype="text/csv")
for _ in range(20):
    model.predict(payload)
calls, started = 0, time.perf_counter()
while (elapsed := time.perf_counter() - started) < seconds or calls < 5:
    model.predict(payload)
    calls += 1
print(json.dumps({"calls": calls, "seconds_per_request": elapsed / calls}))
"""


def floor_seconds(code_dir: Path, payload: Payload, seconds: float, cpus: str | None) -> float:
    """In-process seconds per request of parse + predict + serialise, on one CPU."""
    command = [sys.executable, "-c", FLOOR_SNIPPET, str(code_dir), str(payload.csv), f"{seconds:g}"]
    if cpus:
        command = ["taskset", "-c", cpus.split(",")[0].split("-")[0], *command]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, check=False, env=env,
                               timeout=seconds + 120)
    if completed.returncode != 0:
        raise BenchmarkError(f"the floor measurement failed:\n{completed.stderr}")
    return float(json.loads(completed.stdout)["seconds_per_request"])


# --------------------------------------------------------------------------
# Variants and payloads
# --------------------------------------------------------------------------


def usable_cpus(cpus: str | None) -> int:
    """How many CPUs a server pinned to ``cpus`` (a taskset list) may use."""
    if not cpus:
        return len(os.sched_getaffinity(0))
    count = 0
    for part in cpus.split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


def thread_counts(text: str, server_cpus: str | None) -> list[int]:
    counts: list[int] = []
    for item in text.split(","):
        item = item.strip()
        count = usable_cpus(server_cpus) if item == "ncpu" else int(item)
        if count < 1:
            raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {item!r}")
        if count not in counts:
            counts.append(count)
    return counts


def variants_for(args: argparse.Namespace) -> list[Variant]:
    variants = []
    if args.drum is not None:
        drum = args.drum / "bin" / "drum"
        if not drum.exists():
            raise BenchmarkError(f"{drum} not found (see --drum)")
        variants.append(Variant("drum", server_command(drum)))
    bridge = server_command(find_drum_bridge(args.drum_bridge)) + " --logging-level warning"
    for batching in args.batching:
        for threads in thread_counts(args.threads, args.server_cpus):
            command = f"{bridge} --batching {batching} --model-threads {threads}"
            variants.append(Variant(f"{batching}-t{threads}", command, batching, threads))
    if args.only:
        wanted = set(args.only.split(","))
        variants = [v for v in variants if v.name in wanted]
    return variants


def prepare_payloads(workdir: Path, args: argparse.Namespace) -> list[Payload]:
    connections = {"5_rows": args.connections, "10k_rows": args.big_connections}
    payloads = []
    for name in args.payloads.split(","):
        rows = PAYLOADS[name]
        csv_path = workdir / f"{name}.csv"
        write_csv(csv_path, rows)
        script = write_wrk_script(
            WrkRequest(method="POST", body_file=csv_path, headers=CSV_HEADERS), workdir / f"{name}.lua"
        )
        payloads.append(Payload(name, rows, csv_path, script, connections[name]))
    return payloads


def rounds_of(variants: list[Variant], rounds: int) -> list[tuple[int, Variant]]:
    """DRUM first in every round (its req/s is the open-loop rate of the others), the others
    in reverse order every other round."""
    drum = [v for v in variants if v.batching is None]
    others = [v for v in variants if v.batching is not None]
    order = []
    for round_index in range(1, rounds + 1):
        for variant in drum + (others if round_index % 2 else others[::-1]):
            order.append((round_index, variant))
    return order


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def check_prediction(url: str, payload: Payload) -> None:
    status, body = http_request(url, method="POST", body=payload.csv.read_bytes(), headers=CSV_HEADERS)
    if status != 200:
        raise BenchmarkError(f"{url} answered {status} for {payload.name}: {body[:300]!r}")
    predictions = json.loads(body).get("predictions")
    if not isinstance(predictions, list) or len(predictions) != payload.rows:
        raise BenchmarkError(f"{url} did not answer {payload.rows} predictions for {payload.name}")


def predict_calls(base: str) -> tuple[int, int] | None:
    """drum-bridge's (model calls, requests) of /predict/ so far, from /stats/."""
    try:
        status, body = http_request(base + "/stats/", timeout=10)
        counts = json.loads(body)["predict_calls"] if status == 200 else None
    except (OSError, ValueError, KeyError):
        return None
    return (int(counts["model_calls"]), int(counts["requests"])) if counts else None


def open_loop(url: str, rate: float, payload: Payload, seconds: float, cpus: str | None) -> dict[str, Any]:
    command = [sys.executable, str(OPENLOOP_SCRIPT), "--url", url, "--rate", f"{rate:.3f}",
               "--duration", f"{seconds:g}", "--method", "POST", "--body-file", str(payload.csv),
               "--header", "Content-Type:text/csv"]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 90)
    if completed.returncode != 0:
        raise BenchmarkError(f"openloop.py failed: {completed.stderr}")
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


def measure(
    variant: Variant, payloads: list[Payload], round_index: int, args: argparse.Namespace,
    workdir: Path, drum_rps: dict[str, float],
) -> list[tuple[RunRecord, Extra]]:
    found = []
    log_path = workdir / "logs" / f"{variant.name}-round{round_index}.log"
    with running_server(variant.command, log_path, cpus=args.server_cpus,
                        code_dir=shlex.quote(str(args.code_dir))) as server:
        print(f"[round {round_index}] {variant.name}: ready in {server.ready_s:.1f}s", flush=True)
        url = f"{server.url}/predict/"
        for payload in payloads:
            check_prediction(url, payload)
            config = WrkConfig(connections=payload.connections, cpus=args.client_cpus)
            if args.warmup > 0:
                run_wrk(url, payload.script, args.warmup, config)
            timed = variant.batching is not None and args.floor_seconds > 0
            floor_before = (floor_seconds(args.code_dir, payload, args.floor_seconds, args.server_cpus)
                            if timed else None)
            before = predict_calls(server.url) if variant.batching else None
            result = run_wrk(url, payload.script, args.duration, config)
            after = predict_calls(server.url) if variant.batching else None
            extra = Extra()
            if before and after:
                extra.model_calls, extra.requests = after[0] - before[0], after[1] - before[1]
            if variant.batching is None:
                drum_rps[payload.name] = result.requests_per_sec
            elif args.open_loop > 0 and payload.name in drum_rps:
                extra.open_loop = open_loop(url, drum_rps[payload.name], payload, args.open_loop,
                                            args.client_cpus)
            if floor_before is not None:
                floor_after = floor_seconds(args.code_dir, payload, args.floor_seconds, args.server_cpus)
                extra.floors_s = (floor_before, floor_after)
                extra.floor_s = (floor_before + floor_after) / 2
            found.append((RunRecord(round_index, variant.name, payload.name, server.ready_s, result), extra))
            line = f"    {payload.name:>8}: {describe(result)}"
            if extra.model_calls:
                line += f", {extra.requests / extra.model_calls:.2f} requests a model call"
            if extra.floor_s and extra.floors_s:
                line += (f", floor {extra.floor_s * 1000:.3f} ms (before {extra.floors_s[0] * 1000:.3f},"
                         f" after {extra.floors_s[1] * 1000:.3f}): efficiency"
                         f" {result.requests_per_sec * extra.floor_s:.2f}")
            if extra.open_loop:
                line += (f", open loop at DRUM's {drum_rps[payload.name]:.0f}/s:"
                         f" p99 {extra.open_loop['p99_ms']:.1f} ms")
            print(line, flush=True)
    return found


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def summarize(found: list[tuple[RunRecord, Extra]], variants: list[Variant],
              payloads: list[Payload]) -> list[Row]:
    rows = []
    for payload in payloads:
        records = [(r, e) for r, e in found if r.payload == payload.name]
        for variant in variants:
            mine = [(r, e) for r, e in records if r.variant == variant.name]
            rps = median_rps([r.wrk for r, _ in mine])
            ratios = round_ratios([r for r, _ in records], variant.name, "drum")
            calls = sum(e.model_calls or 0 for _, e in mine)
            served = sum(e.requests or 0 for _, e in mine)
            opened = [e.open_loop["p99_ms"] for _, e in mine if e.open_loop]
            efficiencies = [r.wrk.requests_per_sec * e.floor_s for r, e in mine
                            if e.floor_s and r.wrk.valid]
            rows.append(Row(
                payload=payload.name,
                variant=variant.name,
                median_rps=rps,
                p99_ms=median_or_none(r.wrk.p99_ms for r, _ in mine if r.wrk.valid),
                valid_runs=sum(r.wrk.valid for r, _ in mine),
                total_runs=len(mine),
                vs_drum=format_ratio(statistics.median(ratios), min(ratios), max(ratios))
                if ratios and variant.name != "drum" else "-",
                efficiency=statistics.median(efficiencies) if efficiencies else None,
                efficiency_range=(f"{min(efficiencies):.2f}-{max(efficiencies):.2f}"
                                  if efficiencies else "-"),
                mean_batch=served / calls if calls else None,
                open_p99_ms=median_or_none(opened),
            ))
    return rows


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row], floors: dict[str, list[float]]) -> str:
    lines = [
        "| payload | variant | req/s (median) | p99 ms (wrk) | vs DRUM | efficiency (range) | requests a model call | open-loop p99 ms at DRUM's rate | valid |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.payload} | {row.variant} | {_num(row.median_rps)} | {_num(row.p99_ms)} |"
            f" {row.vs_drum} | {_num(row.efficiency, 2)} ({row.efficiency_range}) |"
            f" {_num(row.mean_batch, 2)} |"
            f" {_num(row.open_p99_ms)} | {row.valid_runs}/{row.total_runs} |"
        )
    lines.append("")
    for name, taken in floors.items():
        if taken:
            seconds = statistics.median(taken)
            lines.append(f"floor {name}: {seconds * 1000:.3f} ms a request in-process, median of"
                         f" {len(taken)} ({min(taken) * 1000:.3f}-{max(taken) * 1000:.3f} ms;"
                         f" {1 / seconds:.0f} req/s on one CPU)")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--drum", type=Path, help="venv with datarobot-drum (adds the real DRUM variant)")
    add("--drum-bridge", type=Path, help="drum-bridge console script (default: beside this interpreter)")
    add("--threads", default="1,2,4,ncpu", help="model thread counts for drum-bridge (default: 1,2,4,ncpu)")
    add("--batching", default="auto,off", type=lambda s: [x.strip() for x in s.split(",")],
        help="drum-bridge batching settings to run, of auto, on and off (default: auto,off)")
    add("--only", help="comma-separated variant names to run (e.g. drum,on-t1,off-t4)")
    add("--payloads", default="5_rows,10k_rows", help="payloads to send (default: 5_rows,10k_rows)")
    add("--connections", type=int, default=32, help="wrk connections for 5 rows (default: 32)")
    add("--big-connections", type=int, default=8, help="wrk connections for 10k rows (default: 8)")
    add("--duration", type=float, default=10.0, help="seconds of each measured wrk run")
    add("--warmup", type=float, default=3.0, help="seconds of the wrk warm-up (0: none)")
    add("--rounds", type=int, default=3)
    add("--floor-seconds", type=float, default=2.0,
        help="seconds of in-process timing before and after each drum-bridge run (0: no floor, no efficiency)")
    add("--open-loop", type=float, default=0.0, metavar="SECONDS",
        help="also offer each drum-bridge variant DRUM's req/s open-loop this long (needs --drum)")
    add("--server-cpus", default="0", help="taskset CPU list of the server (default: 0)")
    add("--client-cpus", default="1", help="taskset CPU list of wrk (default: 1)")
    add("--code-dir", type=Path, help="serve this model dir instead of the built LinearRegression")
    add("--model-python", help="interpreter that pickles the model (default: the --drum one, else this)")
    add("--json", type=Path, help="write every run and the summary here")
    add("--quick", action="store_true", help="one round of 1 s runs, no warm-up: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.floor_seconds = 1, 1.0, 0.0, 0.5
        args.open_loop = min(args.open_loop, 1.0)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if not args.batching or set(args.batching) - {"auto", "on", "off"}:
        parser.error("--batching takes one or more of auto, on and off (e.g. auto,off)")
    if set(args.payloads.split(",")) - set(PAYLOADS):
        parser.error(f"--payloads takes {', '.join(PAYLOADS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    try:
        variants = variants_for(args)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    if not variants:
        print("no variant to run", file=sys.stderr)
        return 2
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench_batching_") as tmp:
        workdir = Path(tmp)
        payloads = prepare_payloads(workdir, args)
        try:
            if args.code_dir is None:
                args.code_dir = workdir / "model"
                python = args.model_python or (
                    str(args.drum / "bin" / "python") if args.drum else sys.executable
                )
                build_model(python, args.code_dir)
            found: list[tuple[RunRecord, Extra]] = []
            drum_rps: dict[str, float] = {}
            for round_index, variant in rounds_of(variants, args.rounds):
                found += measure(variant, payloads, round_index, args, workdir, drum_rps)
        except BenchmarkError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            return 2
    rows = summarize(found, variants, payloads)
    floors = {p.name: [e.floor_s for r, e in found if r.payload == p.name and e.floor_s]
              for p in payloads}
    print()
    print(table(rows, floors))
    if args.json:
        document = {
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "variants": {v.name: v.command for v in variants},
            "floors_s": floors,
            "started": started,
            "runs": [{**r.as_dict(), **asdict(e)} for r, e in found],
            "summary": [asdict(row) for row in rows],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0 if all(r.wrk.valid for r, _ in found) else 1


if __name__ == "__main__":
    sys.exit(main())
