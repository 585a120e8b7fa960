"""Throughput of POST /predict/ (CSV in, JSON out) for DRUM-compatible servers.

Each variant is a shell-like command template with ``{port}`` and
``{code_dir}`` placeholders. Every round starts each variant's server pinned
to one CPU, checks one prediction, then loads it with wrk from another CPU:
a warm-up run and a measured run per payload. Variants alternate (order
reversed every other round) and the median req/s per variant is reported,
with its ratio to the baseline variant (per round, paired: median and range).

Run ``python benchmarks/bench_predict.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from _harness import (
    BenchmarkError,
    WrkConfig,
    WrkRequest,
    WrkResult,
    exit_on_sigterm,
    find_drum_bridge,
    http_request,
    interleaved_rounds,
    run_wrk,
    running_server,
    write_wrk_script,
)
from model_dirs import CSV_HEADERS, PAYLOAD_ROWS, build_model, server_command, write_csv
from stats import RunRecord, describe, format_ratio, median_rps, round_ratios


@dataclass(frozen=True)
class Variant:
    name: str
    command: str


@dataclass(frozen=True)
class Payload:
    name: str
    rows: int
    csv: Path
    script: Path


@dataclass(frozen=True)
class SummaryRow:
    payload: str
    variant: str
    median_rps: float | None
    valid_runs: int
    total_runs: int
    #: Median over rounds of this variant's req/s over the baseline's in the same round.
    ratio_to_baseline: float | None
    ratio_min: float | None
    ratio_max: float | None


# --------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------


def parse_variant(text: str) -> Variant:
    name, sep, command = text.partition("=")
    if not (sep and name.strip() and command.strip()):
        raise argparse.ArgumentTypeError(f"expected NAME=COMMAND, got {text!r}")
    return Variant(name.strip(), command.strip())


def default_variants(drum_ref: Path) -> list[Variant]:
    """Real DRUM from the reference venv and drum-bridge beside this interpreter."""
    variants = []
    drum = drum_ref / "bin" / "drum"
    if drum.exists():
        variants.append(Variant("drum", server_command(drum)))
    else:
        print(
            f"skipping variant 'drum': {drum} not found (see --drum-ref)",
            file=sys.stderr,
        )
    try:
        variants.append(Variant("bridge", server_command(find_drum_bridge())))
    except BenchmarkError as error:
        print(f"skipping variant 'bridge': {error}", file=sys.stderr)
    return variants


# --------------------------------------------------------------------------
# Model and payloads
# --------------------------------------------------------------------------


def prepare_payloads(workdir: Path) -> list[Payload]:
    payloads = []
    for name, rows in PAYLOAD_ROWS.items():
        csv_path = workdir / f"{name}.csv"
        write_csv(csv_path, rows)
        script = write_wrk_script(
            WrkRequest(method="POST", body_file=csv_path, headers=CSV_HEADERS),
            workdir / f"{name}.lua",
        )
        payloads.append(Payload(name, rows, csv_path, script))
    return payloads


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def check_prediction(url: str, payload: Payload) -> None:
    """One request before loading: 200 and a JSON list of one prediction per row."""
    status, body = http_request(
        url, method="POST", body=payload.csv.read_bytes(), headers=CSV_HEADERS
    )
    if status != 200:
        raise BenchmarkError(f"{url} answered {status} for {payload.name}: {body[:500]!r}")
    try:
        predictions = json.loads(body)["predictions"]
    except (ValueError, KeyError, TypeError) as error:
        raise BenchmarkError(f"{url} did not return JSON predictions: {body[:500]!r}") from error
    if not isinstance(predictions, list) or len(predictions) != payload.rows:
        count = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        raise BenchmarkError(f"{url} returned {count} predictions for {payload.rows} rows")


def measure_variant(
    variant: Variant,
    payloads: list[Payload],
    round_index: int,
    args: argparse.Namespace,
    workdir: Path,
) -> list[RunRecord]:
    records = []
    wrk_config = WrkConfig(connections=args.connections, cpus=args.client_cpus)
    log_path = workdir / "logs" / f"{variant.name}-round{round_index}.log"
    with running_server(
        variant.command,
        log_path,
        cpus=args.server_cpus,
        ready_timeout=args.ready_timeout,
        code_dir=shlex.quote(str(args.code_dir)),
    ) as server:
        print(
            f"[round {round_index}] {variant.name}: ready in {server.ready_s:.1f}s on {server.url}",
            flush=True,
        )
        url = f"{server.url}/predict/"
        for payload in payloads:
            try:
                check_prediction(url, payload)
            except BenchmarkError as error:
                raise BenchmarkError(
                    f"{variant.name}: {error}\nserver log:\n{server.log_tail()}"
                ) from error
            run_wrk(url, payload.script, args.warmup, wrk_config)
            result = run_wrk(url, payload.script, args.duration, wrk_config)
            records.append(
                RunRecord(round_index, variant.name, payload.name, server.ready_s, result)
            )
            print(f"    {payload.name:>9}: {describe(result)}", flush=True)
    return records


def run_rounds(
    variants: list[Variant],
    payloads: list[Payload],
    args: argparse.Namespace,
    workdir: Path,
) -> list[RunRecord]:
    """Alternate the variants; every other round in reverse order, to spread drift."""
    records = []
    for round_index, variant in interleaved_rounds(variants, args.rounds):
        records += measure_variant(variant, payloads, round_index, args, workdir)
    return records


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def summarize(
    records: list[RunRecord],
    variants: list[Variant],
    payloads: list[Payload],
    baseline: str,
) -> list[SummaryRow]:
    grouped: dict[tuple[str, str], list[WrkResult]] = {
        (p.name, v.name): [] for p in payloads for v in variants
    }
    for record in records:
        grouped[record.payload, record.variant].append(record.wrk)
    medians = {key: median_rps(results) for key, results in grouped.items()}
    rows = []
    for (payload, variant), results in grouped.items():
        ratios = round_ratios(
            [r for r in records if r.payload == payload], variant, baseline
        )
        rows.append(
            SummaryRow(
                payload=payload,
                variant=variant,
                median_rps=medians[payload, variant],
                valid_runs=sum(r.valid for r in results),
                total_runs=len(results),
                ratio_to_baseline=statistics.median(ratios) if ratios else None,
                ratio_min=min(ratios, default=None),
                ratio_max=max(ratios, default=None),
            )
        )
    return rows


def format_table(rows: list[SummaryRow], baseline: str) -> str:
    header = _table_line("payload", "variant", "req/s (median)", "valid/runs", "vs " + baseline)
    lines = [header, "-" * len(header)]
    for row in rows:
        rps = f"{row.median_rps:.1f}" if row.median_rps is not None else "INVALID"
        rel = format_ratio(row.ratio_to_baseline, row.ratio_min, row.ratio_max)
        runs = f"{row.valid_runs}/{row.total_runs}"
        lines.append(_table_line(row.payload, row.variant, rps, runs, rel))
    return "\n".join(lines)


def _table_line(payload: str, variant: str, rps: str, runs: str, rel: str) -> str:
    return f"{payload:<10} {variant:<16} {rps:>15} {runs:>10} {rel:>19}"


def write_json(
    path: Path,
    args: argparse.Namespace,
    variants: list[Variant],
    records: list[RunRecord],
    rows: list[SummaryRow],
) -> None:
    document = {
        "config": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "connections": args.connections,
            "server_cpus": args.server_cpus,
            "client_cpus": args.client_cpus,
            "baseline": args.baseline,
            "variants": {v.name: v.command for v in variants},
            "payload_rows": PAYLOAD_ROWS,
        },
        "runs": [r.as_dict() for r in records],
        "summary": [asdict(row) for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        default=[],
        metavar="NAME=COMMAND",
        help="server command template with {port} and {code_dir}; repeatable"
        " (default: drum and bridge)",
    )
    parser.add_argument(
        "--drum-ref",
        type=Path,
        default=Path("/work/drum-ref"),
        help="venv with datarobot-drum",
    )
    parser.add_argument("--code-dir", type=Path, help="use this model dir instead of building one")
    parser.add_argument(
        "--model-python",
        help="interpreter that pickles the model (default: the --drum-ref one)",
    )
    parser.add_argument(
        "--duration", type=float, default=15.0, help="seconds of each measured wrk run"
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of the warm-up wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="times every variant is measured (default: 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for the server")
    parser.add_argument("--client-cpus", default="1", help="taskset CPU list for wrk")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for GET /ping/",
    )
    parser.add_argument(
        "--baseline", default="drum", help="variant the ratios are computed against"
    )
    parser.add_argument("--json", type=Path, help="write all runs and the summary here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    return args


def model_python(args: argparse.Namespace) -> str:
    if args.model_python:
        return str(args.model_python)
    reference = args.drum_ref / "bin" / "python"
    return str(reference) if reference.exists() else sys.executable


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    variants = args.variant or default_variants(args.drum_ref)
    if not variants:
        print("no variant to run", file=sys.stderr)
        return 2
    if len({v.name for v in variants}) != len(variants):
        print("variant names must be unique", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        workdir = Path(tmp)
        payloads = prepare_payloads(workdir)
        try:
            if args.code_dir is None:
                args.code_dir = workdir / "model"
                build_model(model_python(args), args.code_dir)
            records = run_rounds(variants, payloads, args, workdir)
        except BenchmarkError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            return 2
    rows = summarize(records, variants, payloads, args.baseline)
    print()
    print(format_table(rows, args.baseline))
    if args.baseline not in {v.name for v in variants}:
        print(f"(baseline {args.baseline!r} was not run: no ratios)")
    if args.json:
        write_json(args.json, args, variants, records, rows)
        print(f"results written to {args.json}")
    return 0 if all(r.wrk.valid for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
