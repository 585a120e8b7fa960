"""One server start of ``run.py``: start a variant on a setup's model, run its scenarios.

Nothing here aborts the whole run: a server that does not start, a check that fails or a
server that dies leaves ``Measurement``s with ``error`` set, which the report marks and
leaves out of medians and ratios.
"""

from __future__ import annotations

import asyncio
import json
import math
import shlex
import subprocess
import sys
import traceback
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from _harness import (
    BenchmarkError,
    Server,
    WrkConfig,
    WrkRequest,
    WrkResult,
    http_request,
    run_wrk,
    running_server,
    write_wrk_script,
)
from model_dirs import code_dir_for
from procstat import ForeignCpu, PeakRss, parse_cpu_list, process_tree_rss_kib
from scenarios import Scenario, Setup, Variant
from stats import describe, percentile
from streams import burst, pinned_to

OPENLOOP_SCRIPT = Path(__file__).resolve().parent / "openloop.py"
KIND_UNITS = {"wrk": "req/s", "streams": "ms", "startup": "s", "peak_rss": "MiB"}


@dataclass
class Measurement:
    """One scenario of one variant in one round: its headline value and what came with it.

    ``value``: req/s (``wrk``), time to first chunk p99 in ms (``streams``), seconds
    (``startup``) or MiB (``peak_rss``). ``valid`` only when nothing failed.
    """

    round: int
    variant: str
    scenario: str
    kind: str
    value: float | None = None
    valid: bool = False
    errors: int = 0
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    p99_ms: float = math.nan
    rss_kib: int | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OpenLoopPoint:
    """An open-loop run at ``fraction`` of a closed-loop capacity.

    ``basis`` says whose: ``own`` (this variant's closed-loop run just before) or the name of
    the real-DRUM variant it is compared with (its latest closed-loop run), so that both
    servers are also measured at the very same offered loads.
    """

    round: int
    variant: str
    scenario: str
    fraction: float
    capacity_rps: float
    result: dict[str, Any]
    basis: str = "own"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Options:
    """How long and where to load; the files the scenarios send."""

    workdir: Path
    payloads: dict[str, tuple[Path, str]]
    pickled_model: Path | None
    duration: float
    warmup: float
    open_duration: float
    fractions: tuple[float, ...]
    server_cpus: str | None
    client_cpus: str | None
    all_cpus: str | None
    logging_level: str
    ready_timeout: float
    chat_chunks: int
    chat_interval: float
    stream_timeout: float
    wrk_timeout: float = 10.0
    #: Latest valid closed-loop req/s per (scenario, variant): the loads DRUM was offered.
    capacities: dict[tuple[str, str], float] = field(default_factory=dict)
    #: drum-bridge variant -> the real-DRUM variant whose loads it is also offered.
    peers: dict[str, str] = field(default_factory=dict)


def short(error: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def measure_setup(
    variant: Variant, setup: Setup, round_index: int, options: Options
) -> tuple[list[Measurement], list[OpenLoopPoint]]:
    """Start ``variant`` on ``setup``'s model, run every scenario, always stop it."""
    measurements: list[Measurement] = []
    points: list[OpenLoopPoint] = []
    code_dir = code_dir_for(options.workdir, setup.model, variant.extension, options.pickled_model)
    env = variant.env(setup)
    if setup.model == "llm":
        env |= {"BENCH_CHUNKS": str(options.chat_chunks),
                "BENCH_CHUNK_INTERVAL": str(options.chat_interval)}
    log = options.workdir / "logs" / f"{setup.name}-{variant.name}-round{round_index}.log"
    label = f"[round {round_index}] {setup.name} / {variant.name}"
    try:
        with running_server(
            variant.command(setup, options.logging_level),
            log,
            cpus=options.all_cpus if setup.all_cpus else options.server_cpus,
            ready_timeout=options.ready_timeout,
            env=env,
            code_dir=shlex.quote(str(code_dir)),
        ) as server:
            print(f"{label}: ready in {server.ready_s:.2f}s", flush=True)
            rss = PeakRss(server.process.pid).start()
            try:
                for scenario in setup.scenarios:
                    if server.process.poll() is not None:
                        raise BenchmarkError(f"server exited with {server.process.returncode}"
                                             f":\n{server.log_tail(10)}")
                    found, more = run_scenario(scenario, setup, variant, server, rss, round_index,
                                               options)
                    measurements.append(found)
                    points += more
                    print(f"    {scenario.name}: {summary_line(found)}", flush=True)
            finally:
                rss.stop()
    except (BenchmarkError, OSError, subprocess.SubprocessError, ValueError, TypeError) as error:
        # An OSError is a server gone mid-request; the others would be the runner's own bug,
        # shown in full. Either way the scenarios left are marked, and the run goes on.
        if not isinstance(error, (BenchmarkError, OSError)):
            traceback.print_exc()
        print(f"{label}: ERROR {short(error, 2000)}", file=sys.stderr, flush=True)
        done = {m.scenario for m in measurements}
        measurements += [
            Measurement(round_index, variant.name, s.name, s.kind, error=short(error))
            for s in setup.scenarios
            if s.name not in done
        ]
    return measurements, points


def summary_line(found: Measurement) -> str:
    if found.error:
        return f"ERROR {found.error}"
    if found.kind == "wrk":
        return describe(_wrk_view(found))
    unit = KIND_UNITS[found.kind]
    return f"{found.value:.3g} {unit}" + ("" if found.valid else f"  INVALID ({found.errors} errors)")


def _wrk_view(found: Measurement) -> WrkResult:
    names = {f.name for f in fields(WrkResult)}
    return WrkResult(**{k: v for k, v in found.detail.items() if k in names})


def run_scenario(
    scenario: Scenario,
    setup: Setup,
    variant: Variant,
    server: Server,
    rss: PeakRss,
    round_index: int,
    options: Options,
) -> tuple[Measurement, list[OpenLoopPoint]]:
    base = Measurement(round_index, variant.name, scenario.name, scenario.kind)
    if scenario.kind == "startup":
        base.value, base.valid = server.ready_s, True
        base.rss_kib = process_tree_rss_kib(server.process.pid)
        return base, []
    if scenario.kind == "peak_rss":
        rss.mark()
        base.rss_kib = rss.peak_kib
        base.value, base.valid = rss.peak_kib / 1024, rss.peak_kib > 0
        return base, []
    if scenario.kind == "streams":
        return run_streams(scenario, server, rss, base, options), []
    return run_closed_and_open(scenario, server, rss, base, options, setup.all_cpus)


def request_parts(scenario: Scenario, options: Options) -> tuple[Path | None, dict[str, str]]:
    headers = dict(scenario.headers)
    if scenario.body is None:
        return None, headers
    path, content_type = options.payloads[scenario.body]
    return path, {**headers, "Content-Type": content_type}


def run_closed_and_open(
    scenario: Scenario,
    server: Server,
    rss: PeakRss,
    base: Measurement,
    options: Options,
    setup_all_cpus: bool = False,
) -> tuple[Measurement, list[OpenLoopPoint]]:
    """Check, warm up, measure closed loop (and the other processes' share of the server's
    CPUs meanwhile, when it is pinned apart), then open loop at fractions of that capacity."""
    url = server.url + scenario.path
    body_path, headers = request_parts(scenario, options)
    body = body_path.read_bytes() if body_path else None
    status, answer = http_request(url, scenario.method, body, headers, timeout=60.0)
    problem = scenario.check(status, answer)
    if problem:
        base.error = short(f"check request {problem}")
        return base, []

    def settle() -> None:
        """One request after a load: it is answered once the requests the load left queued
        are (a one-worker server serves them in order), so the next run starts clean. DRUM's
        one sync worker, at 20 req/s of 50 ms I/O, would otherwise spend a 1 s measured run
        on the 128 requests the warm-up left behind and complete none of its own."""
        http_request(url, scenario.method, body, headers, timeout=options.wrk_timeout + 120)
    script = write_wrk_script(
        WrkRequest(scenario.method, body_path, headers),
        options.workdir / f"{scenario.name}-{base.variant}.lua",
    )
    config = WrkConfig(connections=scenario.connections, cpus=options.client_cpus,
                       timeout_s=options.wrk_timeout)
    run_wrk(url, script, options.warmup, config)
    settle()
    rss.mark()
    own_cpus = options.server_cpus if not setup_all_cpus else None
    other = ForeignCpu(parse_cpu_list(own_cpus), server.process.pid).start() if own_cpus else None
    result = run_wrk(url, script, options.duration, config)
    base.rss_kib = rss.mark()
    base.value, base.valid, base.errors = result.requests_per_sec, result.valid, result.error_count
    base.p50_ms, base.p90_ms, base.p99_ms = result.p50_ms, result.p90_ms, result.p99_ms
    base.detail = result.as_dict()
    if other is not None:
        base.detail["other_cpu_share"] = round(other.stop(), 3)
    points: list[OpenLoopPoint] = []
    if not (scenario.open_loop and result.valid and result.requests_per_sec > 0):
        return base, points
    options.capacities[scenario.name, base.variant] = result.requests_per_sec
    bases = [("own", result.requests_per_sec)]
    peer = options.peers.get(base.variant)
    if peer and (scenario.name, peer) in options.capacities:
        bases.append((peer, options.capacities[scenario.name, peer]))
    for basis, capacity in bases:
        for fraction in options.fractions:
            rate = fraction * capacity
            settle()
            found = open_loop(url, rate, scenario, body_path, headers, options)
            points.append(OpenLoopPoint(base.round, base.variant, scenario.name, fraction,
                                        capacity, found, basis))
            print(f"      open loop {fraction:.0%} of {basis} ({rate:.1f}/s): achieved"
                  f" {found['achieved_rps']:.1f}/s, p99 {found['p99_ms']:.1f} ms,"
                  f" errors {found['errors']}" + (", CLIENT-BOUND" if found["client_bound"] else ""),
                  flush=True)
    return base, points


def open_loop(
    url: str,
    rate: float,
    scenario: Scenario,
    body_path: Path | None,
    headers: dict[str, str],
    options: Options,
) -> dict[str, Any]:
    """Run openloop.py pinned to the client CPUs; its JSON summary."""
    command = [sys.executable, str(OPENLOOP_SCRIPT), "--url", url, "--rate", f"{rate:.3f}",
               "--duration", f"{options.open_duration:g}", "--method", scenario.method,
               "--timeout", f"{options.wrk_timeout:g}"]
    if body_path is not None:
        command += ["--body-file", str(body_path)]
    for name, value in headers.items():
        command += ["--header", f"{name}:{value}"]
    if options.client_cpus:
        command = ["taskset", "-c", options.client_cpus, *command]
    completed = subprocess.run(command, capture_output=True, text=True, check=False,
                               timeout=options.open_duration + options.wrk_timeout + 60)
    if completed.returncode != 0:
        raise BenchmarkError(f"openloop.py failed ({completed.returncode}): {completed.stderr}")
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


def run_streams(
    scenario: Scenario, server: Server, rss: PeakRss, base: Measurement, options: Options
) -> Measurement:
    clients, chunks, timeout = scenario.connections, options.chat_chunks, options.stream_timeout
    with pinned_to(options.client_cpus):
        check = asyncio.run(burst(server.port, 1, chunks, timeout))
        if not check[0].ok:
            base.error = short(f"check stream failed: {check[0].error}")
            return base
        asyncio.run(burst(server.port, min(4, clients), chunks, timeout))
        rss.mark()
        samples = asyncio.run(burst(server.port, clients, chunks, timeout))
        base.rss_kib = rss.mark()
    ttfc = [s.ttfc_ms for s in samples if s.ok]
    whole = [s.total_ms for s in samples if s.ok]
    failed = [s.error for s in samples if not s.ok]
    base.errors, base.valid = len(failed), not failed and bool(ttfc)
    base.value = percentile(ttfc, 99) if ttfc else None
    base.p50_ms, base.p90_ms, base.p99_ms = (percentile(ttfc, p) for p in (50, 90, 99))
    base.detail = {"clients": clients, "chunks": chunks, "ttfc_ms": ttfc, "stream_ms": whole,
                   "stream_p50_ms": percentile(whole, 50), "stream_p99_ms": percentile(whole, 99),
                   "errors": failed[:10]}
    return base
