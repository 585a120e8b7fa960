"""Reusable pieces for the HTTP benchmarks: servers under test and wrk runs.

Everything here talks to 127.0.0.1 only. A server is started in its own
process group, polled until ready, and always stopped by the caller through
``running_server`` (a context manager) so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

HOST = "127.0.0.1"


class BenchmarkError(RuntimeError):
    """A server or load run did not behave as a benchmark requires."""


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop the servers."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


# --------------------------------------------------------------------------
# Ports and plain HTTP
# --------------------------------------------------------------------------


T = TypeVar("T")


def interleaved_rounds(variants: list[T], rounds: int) -> Iterator[tuple[int, T]]:
    """(round, variant) for every round, every other round in reverse order to spread drift."""
    for round_index in range(1, rounds + 1):
        for variant in variants if round_index % 2 else variants[::-1]:
            yield round_index, variant


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def base_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def http_request(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    """Send one request; return (status, body) for any HTTP status."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


# --------------------------------------------------------------------------
# Servers under test
# --------------------------------------------------------------------------


def find_drum_bridge(explicit: Path | None = None) -> str:
    """The drum-bridge console script: given, beside this interpreter, or on PATH."""
    if explicit is not None:
        return str(explicit)
    beside = Path(sys.executable).parent / "drum-bridge"
    found = str(beside) if beside.exists() else shutil.which("drum-bridge")
    if not found:
        raise BenchmarkError("no drum-bridge console script found (see --drum-bridge)")
    return found


@dataclass
class Server:
    """A started server process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    ready_s: float = float("nan")

    @property
    def url(self) -> str:
        return base_url(self.port)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def pinned(command: str, cpus: str | None) -> list[str]:
    """Split a shell-like command, prefixed with ``taskset -c CPUS`` if given."""
    argv = shlex.split(command)
    return ["taskset", "-c", cpus, *argv] if cpus else argv


def start_server(
    command: str,
    port: int,
    log_path: Path,
    cpus: str | None = "0",
    env: Mapping[str, str] | None = None,
) -> Server:
    """Start ``command`` (already formatted with its port) in a new process group."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pinned(command, cpus),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    return Server(process=process, port=port, log_path=log_path)


def wait_ready(
    server: Server, path: str = "/ping/", timeout: float = 120.0, poll_s: float = 0.05
) -> float:
    """Poll GET ``path`` until it answers 200; return the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchmarkError(
                f"server exited with code {server.process.returncode}"
                f" before it was ready:\n{server.log_tail()}"
            )
        with contextlib.suppress(OSError):
            status, _ = http_request(server.url + path, timeout=2.0)
            if status == 200:
                return time.monotonic() - started
        time.sleep(poll_s)
    raise BenchmarkError(
        f"server not ready on {server.url}{path} after {timeout:.0f}s:\n{server.log_tail()}"
    )


def stop_server(server: Server, timeout: float = 15.0) -> None:
    """SIGTERM the server's pid, SIGKILL its process group if it lingers."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait(timeout=timeout)
    # Workers of a pre-fork server may outlive their parent: the group is ours.
    _kill_group(process.pid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@contextlib.contextmanager
def running_server(
    command_template: str,
    log_path: Path,
    cpus: str | None = "0",
    ready_path: str = "/ping/",
    ready_timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
    **placeholders: Any,
) -> Iterator[Server]:
    """Start ``command_template`` on a free ``{port}``, wait for it, always stop it."""
    port = free_port()
    command = command_template.format(port=port, **placeholders)
    server = start_server(command, port, log_path, cpus=cpus, env=env)
    try:
        server.ready_s = wait_ready(server, path=ready_path, timeout=ready_timeout)
        yield server
    finally:
        stop_server(server)


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkRequest:
    """What every wrk request sends: method, optional body file, headers."""

    method: str = "GET"
    body_file: Path | None = None
    headers: Mapping[str, str] | None = None

    def lua(self) -> str:
        lines = [f"wrk.method = {_lua_string(self.method)}"]
        if self.body_file is not None:
            path = _lua_string(str(self.body_file))
            lines += [
                f'local body_file = assert(io.open({path}, "rb"))',
                'wrk.body = body_file:read("*a")',
                "body_file:close()",
            ]
        for name, value in (self.headers or {}).items():
            lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
        return "\n".join(lines) + "\n"


def _lua_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    requests_per_sec: float
    latency_avg_ms: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    #: From wrk's ``--latency`` distribution (nan when wrk did not print it).
    p50_ms: float = float("nan")
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")

    @property
    def error_count(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    @property
    def valid(self) -> bool:
        return self.error_count == 0 and self.requests > 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "valid": self.valid}


_SOCKET_ERROR_KINDS = ("connect", "read", "write", "timeout")
_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk_output(text: str) -> WrkResult:
    """Read the summary that wrk prints; raise if it is not there."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text, re.MULTILINE)
    latency = re.search(r"^\s*Latency\s+([\d.]+)(us|ms|s|m|h)", text, re.MULTILINE)
    if not (rps and total):
        raise BenchmarkError(f"unexpected wrk output:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    counts = map(int, sockets.groups()) if sockets else (0, 0, 0, 0)
    socket_errors = dict(zip(_SOCKET_ERROR_KINDS, counts, strict=True))
    distribution = {
        int(match.group(1)): float(match.group(2)) * _UNIT_TO_MS[match.group(3)]
        for match in re.finditer(
            r"^\s+(50|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE
        )
    }
    return WrkResult(
        requests=int(total.group(1)),
        duration_s=float(total.group(2)) * _UNIT_TO_MS[total.group(3)] / 1000.0,
        requests_per_sec=float(rps.group(1)),
        latency_avg_ms=float(latency.group(1)) * _UNIT_TO_MS[latency.group(2)]
        if latency
        else float("nan"),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
        p50_ms=distribution.get(50, float("nan")),
        p90_ms=distribution.get(90, float("nan")),
        p99_ms=distribution.get(99, float("nan")),
    )


@dataclass(frozen=True)
class WrkConfig:
    """How wrk loads the server: threads, connections, client CPU, timeout."""

    threads: int = 1
    connections: int = 32
    cpus: str | None = "1"
    timeout_s: float = 10.0


def run_wrk(
    url: str, script: Path, duration_s: float, config: WrkConfig = WrkConfig()
) -> WrkResult:
    """Run wrk once against ``url`` with the Lua ``script``; parse its summary."""
    command = [
        "wrk",
        f"-t{config.threads}",
        f"-c{config.connections}",
        f"-d{max(1, math.ceil(duration_s))}s",  # wrk takes whole seconds
        f"--timeout={config.timeout_s:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if config.cpus:
        command = ["taskset", "-c", config.cpus, *command]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=duration_s + config.timeout_s + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchmarkError(
            f"wrk failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    return parse_wrk_output(completed.stdout)


def write_wrk_script(request: WrkRequest, path: Path) -> Path:
    path.write_text(request.lua())
    return path
