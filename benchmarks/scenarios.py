"""What ``run.py`` measures: the server variants, the servers each starts, the load on each.

A *setup* is one server start: a model, a target type and server options. Each setup serves
one or more *scenarios* (a load and how it is checked). A *variant* is a server install with
or without an extension; every variant that a setup admits runs it once per round.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from model_dirs import server_command

AUTH_HEADERS = {"X-Auth-Token": "secret"}
CHAT_ENV = {"TARGET_NAME": "completion", "BENCH_HOOKS": "sync"}
#: The runtime parameter that sets DRUM's gunicorn worker count (``--max-workers`` does not).
DRUM_WORKERS_ENV = "MLOPS_RUNTIME_PARAM_CUSTOM_MODEL_WORKERS"
#: What the echo scenario sends (and expects back): 1 KiB of text.
ECHO_BODY = ("drum-bridge echo " * 64)[:1024].encode()


@dataclass(frozen=True)
class Variant:
    """A server under test: real DRUM or drum-bridge, with or without an extension file."""

    name: str
    server: str  # "bridge" or "drum"
    executable: str
    #: ``custom_flask.py`` or ``custom_fastapi.py`` (copied from models/extensions), or None.
    extension: str | None = None
    #: The variant its "vs DRUM" ratio is taken against (same hook where DRUM has one).
    drum_peer: str | None = None

    def command(self, setup: Setup, logging_level: str) -> str:
        command = server_command(self.executable, setup.target_type)
        if self.server == "bridge":
            command += f" --logging-level {shlex.quote(logging_level)}"
            if setup.model_threads:
                command += f" --model-threads {setup.model_threads}"
            if setup.workers != 1:
                command += f" --max-workers {setup.workers}"
        return command

    def env(self, setup: Setup) -> dict[str, str]:
        env = dict(setup.env)
        if self.server == "drum" and setup.workers != 1:
            env[DRUM_WORKERS_ENV] = json.dumps({"type": "numeric", "payload": setup.workers})
        return env


def standard_variants(bridge: str, drum: str | None) -> list[Variant]:
    """drum-bridge with no extension, the guide's two auth examples, and real DRUM if given."""
    peer = "drum" if drum else None
    flask_peer = "drum-flask-auth" if drum else None
    variants = [
        Variant("bridge", "bridge", bridge, drum_peer=peer),
        Variant("bridge-flask-auth", "bridge", bridge, "custom_flask.py", flask_peer),
        Variant("bridge-fastapi-auth", "bridge", bridge, "custom_fastapi.py", flask_peer),
    ]
    if drum:
        variants += [
            Variant("drum", "drum", drum, drum_peer="drum"),
            Variant("drum-flask-auth", "drum", drum, "custom_flask.py", "drum-flask-auth"),
        ]
    return variants


Check = Callable[[int, bytes], str | None]


def expect_ok(status: int, body: bytes) -> str | None:
    return None if status == 200 else f"answered {status}: {body[:300]!r}"


def expect_predictions(rows: int) -> Check:
    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"answered {status}: {body[:300]!r}"
        try:
            predictions = json.loads(body)["predictions"]
        except (ValueError, KeyError, TypeError):
            return f"no JSON predictions: {body[:300]!r}"
        if not isinstance(predictions, list) or len(predictions) != rows:
            return f"expected {rows} predictions, got {str(predictions)[:100]}"
        return None

    return check


def expect_body(expected: bytes) -> Check:
    def check(status: int, body: bytes) -> str | None:
        if (status, body) != (200, expected):
            return f"answered {status} {body[:200]!r}, expected 200 {expected[:50]!r}"
        return None

    return check


@dataclass(frozen=True)
class Scenario:
    """One load on a running server.

    ``kind``: ``wrk`` (closed loop, then open loop at fractions of the capacity it measured
    when ``open_loop``), ``streams`` (concurrent chat streams), ``startup`` (seconds from
    exec to the first 200 of GET /ping/, and the RSS then) or ``peak_rss`` (the highest RSS
    of the server's process tree over its whole life, taken when the setup ends).
    """

    name: str
    kind: str
    title: str
    path: str = "/ping/"
    method: str = "GET"
    #: Key of the body file the runner writes (``payloads``), or None for no body.
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    connections: int = 32
    open_loop: bool = False
    check: Check = expect_ok


@dataclass(frozen=True)
class Setup:
    """One server start: the model it serves and the scenarios run against it."""

    name: str
    model: str  # "regression" or a folder of benchmarks/models/
    target_type: str
    scenarios: tuple[Scenario, ...]
    #: Which variants run it: "all", or "plain" (bridge and drum with no extension).
    variants: str = "all"
    model_threads: int | None = None
    workers: int = 1
    #: Pin the server to every CPU of the machine instead of --server-cpus (worker scaling).
    all_cpus: bool = False
    env: Mapping[str, str] = field(default_factory=dict)

    def admits(self, variant: Variant) -> bool:
        return self.variants == "all" or variant.extension is None


#: Bodies the runner writes into its work dir before loading: name -> (content, content type).
def payloads(workdir: Path, write_csv: Callable[[Path, int], None]) -> dict[str, tuple[Path, str]]:
    files = {"csv_5": (workdir / "5_rows.csv", 5), "csv_10k": (workdir / "10k_rows.csv", 10_000)}
    out: dict[str, tuple[Path, str]] = {}
    for name, (path, rows) in files.items():
        write_csv(path, rows)
        out[name] = (path, "text/csv")
    echo = workdir / "echo.txt"
    echo.write_bytes(ECHO_BODY)
    out["echo"] = (echo, "text/plain")
    return out


def _predict(name: str, title: str, body: str, rows: int, open_loop: bool = True) -> Scenario:
    return Scenario(
        name, "wrk", title, "/predict/", "POST", body, AUTH_HEADERS,
        open_loop=open_loop, check=expect_predictions(rows),
    )


def _io_wait(connections: int, open_loop: bool) -> Setup:
    scenario = Scenario(
        f"io_wait_{connections}", "wrk",
        f"/predict/ 5 rows, score() waits 50 ms on I/O, {connections} connections",
        "/predict/", "POST", "csv_5", AUTH_HEADERS, connections, open_loop, expect_predictions(5),
    )
    # A sync score() holds a model thread while it waits: as many threads as connections,
    # as the README advises for I/O-bound sync hooks (drum-bridge only; DRUM has no such knob).
    return Setup(scenario.name, "io_wait", "regression", (scenario,), "plain", connections)


def _workers(count: int) -> Setup:
    scenario = _predict(
        f"workers_{count}", f"/predict/ 5 rows, {count} worker process(es), server on all CPUs",
        "csv_5", 5, open_loop=False,
    )
    return Setup(scenario.name, "regression", "regression", (scenario,), "plain",
                 workers=count, all_cpus=True)


def standard_setups(chat_clients: int) -> list[Setup]:
    """Every setup of the issue, in the order a round runs them."""
    regression = Setup(
        "regression", "regression", "regression",
        (
            Scenario("startup", "startup", "start-up: exec to the first 200 of GET /ping/"),
            Scenario("ping", "wrk", "GET /ping/", headers=AUTH_HEADERS, open_loop=True),
            _predict("predict_5", "POST /predict/ CSV, 5 rows", "csv_5", 5),
            _predict("predict_10k", "POST /predict/ CSV, 10,000 rows", "csv_10k", 10_000),
            Scenario("peak_rss", "peak_rss", "peak RSS of the server's process tree"),
        ),
    )
    echo = Setup(
        "echo", "echo", "unstructured",
        (
            Scenario(
                "echo", "wrk", "POST /predictUnstructured/ 1 KiB text echo",
                "/predictUnstructured/", "POST", "echo", AUTH_HEADERS, open_loop=True,
                check=expect_body(ECHO_BODY),
            ),
        ),
    )
    chat = Setup(
        "chat", "llm", "textgeneration",
        (
            Scenario(
                "chat_stream", "streams",
                f"chat streaming, {chat_clients} concurrent streams: time to first chunk",
                "/v1/chat/completions", "POST", connections=chat_clients,
            ),
        ),
        "plain", model_threads=chat_clients, env=CHAT_ENV,
    )
    return [regression, echo, _io_wait(32, True), _io_wait(128, False), chat,
            _workers(1), _workers(2)]


def scenario_names(setups: list[Setup]) -> list[str]:
    return [scenario.name for setup in setups for scenario in setup.scenarios]
