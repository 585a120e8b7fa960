"""LLM-shaped load: chat streams and an I/O-bound unstructured model, drum-bridge vs real DRUM.

Two parts, each run for every variant, variants interleaved (reversed every other round):

* ``streams``: a chat hook that streams ``--chunks`` chunks ``--chunk-interval`` seconds
  apart (default 20 chunks, 50 ms). ``--clients`` concurrent clients (default 64) each open
  one stream at once per round; a stdlib asyncio client (pinned to the client CPUs) times
  the first chunk and the ``[DONE]`` of each. Reported: time to first chunk p50/p99 and
  whole stream p50/p99 over all rounds, and the issue's targets (TTFC p99 < 100 ms, whole
  stream p99 < 1.3 s).
* ``unstructured``: ``score_unstructured`` waiting 50 ms on I/O, loaded with wrk at
  ``--connections`` (default 32): req/s, and the ratio to DRUM paired by round.

Variants: ``drum`` (real ``drum server`` from ``--drum-ref``, its default gunicorn server,
one sync worker; sync hooks), ``bridge-sync`` (the same sync hooks on drum-bridge with
``--model-threads`` as many as the concurrent calls) and ``bridge-async`` (``async def``
hooks and an async generator, default model threads).  Servers run pinned to
``--server-cpus``, load to ``--client-cpus``.  Standard library only; run it by path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import shutil
import statistics
import sys
import tempfile
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
    interleaved_rounds,
    run_wrk,
    running_server,
    write_wrk_script,
)
from stats import RunRecord, describe, format_ratio, median_rps, percentile, round_ratios
from streams import burst, pinned_to

#: The model of both parts; ``BENCH_HOOKS=async`` picks the ``async def`` hooks.
MODEL_DIR = Path(__file__).resolve().parent / "models" / "llm"
TARGETS = {"ttfc_p99_ms": 100.0, "stream_p99_ms": 1300.0}
PARTS = ("streams", "unstructured")


@dataclass(frozen=True)
class Variant:
    name: str
    executable: str
    hooks: str  # "sync" or "async"
    #: drum-bridge's --model-threads, per part (None: the server's default).
    model_threads: dict[str, int | None] = field(default_factory=dict)

    def command(self, part: str) -> str:
        target = "textgeneration" if part == "streams" else "unstructured"
        command = (f"{shlex.quote(self.executable)} server --code-dir {{code_dir}}"
                   " --address 127.0.0.1:{port} " f"--target-type {target}")
        if self.name != "drum":
            command += " --logging-level warning"
            if self.model_threads.get(part):
                command += f" --model-threads {self.model_threads[part]}"
        return command


def find_variants(args: argparse.Namespace) -> list[Variant]:
    found: list[Variant] = []
    drum = args.drum_ref / "bin" / "drum"
    bridge_path: str | None
    try:
        bridge_path = find_drum_bridge(args.drum_bridge)
    except BenchmarkError:
        bridge_path = None
    threads = {"streams": args.clients, "unstructured": args.connections}
    candidates = {
        "drum": Variant("drum", str(drum), "sync") if drum.exists() else None,
        "bridge-sync": Variant("bridge-sync", bridge_path, "sync", threads) if bridge_path else None,
        "bridge-async": Variant("bridge-async", bridge_path, "async") if bridge_path else None,
    }
    for name in args.variants.split(","):
        variant = candidates.get(name.strip())
        if variant is None:
            print(f"skipping variant {name!r}: not known or its server is missing", file=sys.stderr)
        else:
            found.append(variant)
    return found


# --------------------------------------------------------------------------
# Rounds
# --------------------------------------------------------------------------


def server_env(variant: Variant, args: argparse.Namespace) -> dict[str, str]:
    return {"TARGET_NAME": "completion", "BENCH_HOOKS": variant.hooks,
            "BENCH_CHUNKS": str(args.chunks), "BENCH_CHUNK_INTERVAL": str(args.chunk_interval)}


def start(variant: Variant, part: str, args: argparse.Namespace, log: Path) -> Any:
    return running_server(
        variant.command(part), log, cpus=args.server_cpus, env=server_env(variant, args),
        ready_timeout=args.ready_timeout, code_dir=shlex.quote(str(args.code_dir)),
    )


def run_streams(variant: Variant, round_index: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    log = workdir / f"{variant.name}-streams-{round_index}.log"
    with start(variant, "streams", args, log) as server, pinned_to(args.client_cpus):
        check = asyncio.run(burst(server.port, 1, args.chunks, args.stream_timeout))
        if not check[0].ok:
            raise BenchmarkError(f"{variant.name}: the check stream failed: {check[0].error}"
                                 f"\n{server.log_tail()}")
        asyncio.run(burst(server.port, min(4, args.clients), args.chunks, args.stream_timeout))
        samples = asyncio.run(burst(server.port, args.clients, args.chunks, args.stream_timeout))
    errors = [s.error for s in samples if not s.ok]
    record = {"round": round_index, "variant": variant.name, "part": "streams",
              "ttfc_ms": [s.ttfc_ms for s in samples if s.ok],
              "stream_ms": [s.total_ms for s in samples if s.ok], "errors": errors}
    print(f"round {round_index} {variant.name:<13} streams: {len(samples) - len(errors)} ok,"
          f" {len(errors)} failed; ttfc p99 {percentile(record['ttfc_ms'], 99):.0f} ms,"
          f" stream p99 {percentile(record['stream_ms'], 99):.0f} ms", flush=True)
    return record


def run_unstructured(variant: Variant, round_index: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    log = workdir / f"{variant.name}-unstructured-{round_index}.log"
    body = workdir / "body.txt"
    body.write_text("ping")
    script = write_wrk_script(
        WrkRequest(method="POST", body_file=body, headers={"Content-Type": "text/plain"}),
        workdir / "unstructured.lua",
    )
    wrk = WrkConfig(connections=args.connections, cpus=args.client_cpus)
    with start(variant, "unstructured", args, log) as server:
        url = server.url + "/predictUnstructured/"
        status, answer = http_request(url, "POST", b"ping", {"Content-Type": "text/plain"})
        if (status, answer) != (200, b"ok"):
            raise BenchmarkError(f"{variant.name}: check answered {status} {answer[:200]!r}"
                                 f"\n{server.log_tail()}")
        run_wrk(url, script, args.warmup, wrk)
        result = run_wrk(url, script, args.duration, wrk)
    print(f"round {round_index} {variant.name:<13} unstructured: {describe(result)}", flush=True)
    return {"round": round_index, "variant": variant.name, "part": "unstructured",
            "wrk": result.as_dict(), "_result": result}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


#: The issue's floor for drum-bridge's unstructured req/s over DRUM's, paired by round.
UNSTRUCTURED_TARGET = 10.0


def streams_table(records: list[dict[str, Any]], variants: list[Variant]) -> str:
    header = (f"{'variant':<14}{'ok/streams':>11}{'ttfc p50':>10}{'ttfc p99':>10}"
              f"{'stream p50':>12}{'stream p99':>12}  targets (p99 < 100 ms / < 1.3 s)")
    lines = [header, "-" * len(header)]
    for variant in variants:
        mine = [r for r in records if r["variant"] == variant.name]
        ttfc = [v for r in mine for v in r["ttfc_ms"]]
        whole = [v for r in mine for v in r["stream_ms"]]
        failed = sum(len(r["errors"]) for r in mine)
        result = "-"
        if variant.name != "drum" and ttfc:
            met = (percentile(ttfc, 99) < TARGETS["ttfc_p99_ms"] and not failed
                   and percentile(whole, 99) < TARGETS["stream_p99_ms"])
            result = "PASS" if met else "FAIL"
        lines.append(f"{variant.name:<14}{f'{len(ttfc)}/{len(ttfc) + failed}':>11}"
                     f"{percentile(ttfc, 50):>8.0f}ms{percentile(ttfc, 99):>8.0f}ms"
                     f"{percentile(whole, 50):>10.0f}ms{percentile(whole, 99):>10.0f}ms  {result}")
    return "\n".join(lines)


def unstructured_table(records: list[dict[str, Any]], variants: list[Variant]) -> str:
    runs = [RunRecord(r["round"], r["variant"], "unstructured", 0.0, r["_result"]) for r in records]
    header = (f"{'variant':<14}{'req/s (median)':>16}{'valid/runs':>11}{'vs drum':>22}"
              f"  target (>= {UNSTRUCTURED_TARGET:g}x)")
    lines = [header, "-" * len(header)]
    for variant in variants:
        results = [r.wrk for r in runs if r.variant == variant.name]
        rps = median_rps(results)
        ratios = round_ratios(runs, variant.name, "drum")
        median = statistics.median(ratios) if ratios else None
        ratio = format_ratio(median, min(ratios, default=None), max(ratios, default=None))
        valid = f"{sum(r.valid for r in results)}/{len(results)}"
        result = "-"
        if variant.name != "drum" and median is not None:
            result = "PASS" if median >= UNSTRUCTURED_TARGET else "FAIL"
        lines.append(f"{variant.name:<14}{(f'{rps:.1f}' if rps else 'INVALID'):>16}{valid:>11}"
                     f"{ratio:>22}  {result}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--parts", default=",".join(PARTS), help="comma-separated: streams, unstructured")
    add("--variants", default="drum,bridge-sync,bridge-async", help="comma-separated variant names")
    add("--drum-ref", type=Path, default=Path("/work/drum-ref"), help="venv with datarobot-drum and openai")
    add("--drum-bridge", type=Path, help="drum-bridge console script (default: beside this Python)")
    add("--rounds", type=int, default=3, help="times every variant is measured (default: 3)")
    add("--clients", type=int, default=64, help="concurrent streams (default: 64)")
    add("--chunks", type=int, default=20, help="chunks per stream (default: 20)")
    add("--chunk-interval", type=float, default=0.05, help="seconds between chunks (default: 0.05)")
    add("--stream-timeout", type=float, default=300.0, help="seconds one stream may take, queueing included")
    add("--connections", type=int, default=32, help="wrk connections for unstructured (default: 32)")
    add("--duration", type=float, default=15.0, help="seconds of each measured wrk run")
    add("--warmup", type=float, default=5.0, help="seconds of the warm-up wrk run")
    add("--server-cpus", default="0", help="taskset CPU list for the server")
    add("--client-cpus", default="1", help="CPU list for the load (the asyncio client and wrk)")
    add("--ready-timeout", type=float, default=120.0, help="seconds to wait for GET /ping/")
    add("--json", type=Path, help="write all runs and the summary here")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if args.rounds < 1 or args.clients < 1 or args.chunks < 1 or not set(args.parts) <= set(PARTS):
        parser.error("--rounds, --clients, --chunks must be >= 1; --parts from: " + ", ".join(PARTS))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    variants = find_variants(args)
    if not variants:
        print("no variant to run", file=sys.stderr)
        return 2
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_llm_") as tmp:
        workdir = Path(tmp)
        args.code_dir = workdir / "model"
        args.code_dir.mkdir()
        shutil.copy2(MODEL_DIR / "custom.py", args.code_dir / "custom.py")
        try:
            for part in args.parts:
                run = run_streams if part == "streams" else run_unstructured
                for round_index, variant in interleaved_rounds(variants, args.rounds):
                    records.append(run(variant, round_index, args, workdir))
        except BenchmarkError as error:
            hint = " (the model needs `pip install openai` in that venv)" if "openai" in str(error) else ""
            print(f"benchmark failed{hint}: {error}", file=sys.stderr)
            return 2
    streams = [r for r in records if r["part"] == "streams"]
    unstructured = [r for r in records if r["part"] == "unstructured"]
    tables = []
    if streams:
        tables.append(streams_table(streams, variants))
        print(f"\nstreams: {args.clients} concurrent, {args.chunks} chunks {args.chunk_interval * 1000:g} ms apart"
              f" ({args.rounds} rounds)\n" + streams_table(streams, variants))
    if unstructured:
        print(f"\nunstructured: 50 ms I/O per call, {args.connections} connections\n"
              + unstructured_table(unstructured, variants))
        tables.append(unstructured_table(unstructured, variants))
    if args.json:
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        runs = [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]
        document = {"config": config, "variants": [asdict(v) for v in variants], "runs": runs,
                    "streams": streams_table(streams, variants) if streams else None,
                    "unstructured": unstructured_table(unstructured, variants) if unstructured else None}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"results written to {args.json}")
    failed = any(r.get("errors") for r in streams) or any(not r["_result"].valid for r in unstructured)
    missed = any(line.endswith("FAIL") for table in tables for line in table.splitlines())
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
