"""What operations cost: ``/ping/`` and 5-row ``/predict/`` req/s with Prometheus metrics off,
on (the default), and on with OpenTelemetry tracing into the SDK's in-memory exporter.

The same drum-bridge and model (``examples/regression``) in three variants, server pinned to
core 0 and wrk to core 1, a warm-up and a measured run per round, variants interleaved; the
ratios to ``metrics-off`` are paired by round (median and range).  Targets (operations issue):
metrics on >= 0.9x, tracing >= 0.8x.

    .venv/bin/python benchmarks/bench_ops.py --rounds 3 --duration 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    WrkConfig,
    WrkRequest,
    find_drum_bridge,
    interleaved_rounds,
    run_wrk,
    running_server,
    write_wrk_script,
)

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "regression"
VARIANTS = {
    "metrics-off": ("--metrics off", {}),
    "metrics-on": ("", {}),
    "tracing": ("", {"PYTHONPATH": str(Path(__file__).resolve().parent / "tracing_site")}),
}
TARGETS = {"metrics-on": 0.9, "tracing": 0.8}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    drum = find_drum_bridge()
    work = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    scenarios = {
        "ping": ("/ping/", WrkRequest()),
        "predict-5": ("/predict/", WrkRequest(method="POST", body_file=MODEL / "input.csv",
                                              headers={"Content-Type": "text/csv"})),
    }
    scripts = {name: write_wrk_script(req, work / f"{name}.lua") for name, (_, req) in scenarios.items()}
    rps: dict[str, dict[str, dict[int, float]]] = {s: {v: {} for v in VARIANTS} for s in scenarios}
    wrk = WrkConfig(connections=args.connections)
    for round_index, variant in interleaved_rounds(list(VARIANTS), args.rounds):
        flags, env = VARIANTS[variant]
        command = (f"{drum} server --code-dir {MODEL} --target-type regression --address 127.0.0.1:{{port}}"
                   f" --logging-level warning --access-log off {flags}")
        with running_server(command, work / f"{variant}-{round_index}.log", env=env) as server:
            for name, script in scripts.items():
                run_wrk(server.url + scenarios[name][0], script, args.warmup, wrk)
                result = run_wrk(server.url + scenarios[name][0], script, args.duration, wrk)
                if not result.valid:
                    print(f"{variant} {name} round {round_index}: errors {result.error_count}", file=sys.stderr)
                    return 1
                rps[name][variant][round_index] = result.requests_per_sec
                print(f"round {round_index} {variant:12} {name:10} {result.requests_per_sec:9.1f} req/s", flush=True)
    print("\n| scenario | variant | req/s (median) | ratio to metrics-off (median, range) | target |")
    print("|---|---|---|---|---|")
    for name in scenarios:
        base = rps[name]["metrics-off"]
        for variant in VARIANTS:
            ratios = [rps[name][variant][r] / base[r] for r in base]
            target = TARGETS.get(variant)
            verdict = "" if target is None else ("PASS" if statistics.median(ratios) >= target else "MISS") + f" (>= {target})"
            print(f"| {name} | {variant} | {statistics.median(rps[name][variant].values()):.0f} |"
                  f" {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
