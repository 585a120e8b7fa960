"""Reusable pieces for the HTTP benchmarks: servers under test and wrk runs.

Everything here talks to 127.0.0.1 only. A server is started in its own
process group, polled until ready, and always stopped by the caller through
``running_server`` (a context manager) so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
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


def wait_ready(server: Server, path: str = "/ping/", timeout: float = 120.0) -> float:
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
        time.sleep(0.2)
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
    return WrkResult(
        requests=int(total.group(1)),
        duration_s=float(total.group(2)) * _UNIT_TO_MS[total.group(3)] / 1000.0,
        requests_per_sec=float(rps.group(1)),
        latency_avg_ms=float(latency.group(1)) * _UNIT_TO_MS[latency.group(2)]
        if latency
        else float("nan"),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
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
        f"-d{duration_s:g}s",
        f"--timeout={config.timeout_s:g}s",
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


# --------------------------------------------------------------------------
# Other load on the benchmark's CPUs (Linux /proc)
# --------------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_cpu_list(text: str) -> list[int]:
    """CPU numbers of a taskset list such as ``0``, ``0,2`` or ``0-3``."""
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        cpus += range(int(first), int(last or first) + 1)
    return cpus


def cpu_busy_s(cpus: list[int]) -> float:
    """Seconds ``cpus`` spent in user, nice and system mode since boot."""
    wanted = {f"cpu{cpu}" for cpu in cpus}
    total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name in wanted:
            total += sum(int(tick) for tick in ticks[:3])
    return total / _CLOCK_TICKS


def process_cpu_s(pid: int) -> float:
    """User and system seconds of process ``pid``, all its threads (not its children)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_tree_cpu_s(pid: int) -> float:
    """``process_cpu_s`` of ``pid`` and of every process below it (a server's workers)."""
    parents: dict[int, int] = {}
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue  # the process ended meanwhile
        parents[int(stat_path.parent.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree = {pid}
    grew = True
    while grew:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    total = 0.0
    for member in tree:
        try:
            total += process_cpu_s(member)
        except OSError:
            pass
    return total


@dataclass
class ForeignCpu:
    """CPU time used on ``cpus`` by anything but process ``pid`` and its children.

    Start it just before a measured run and call ``stop`` right after: ``share``
    is then how much of one CPU other processes took from a server pinned to
    ``cpus`` (0.0 on a quiet machine, 1.0 = a whole CPU); the server's own worker
    processes count as the server.  Interrupt time is left out on both sides.
    """

    cpus: list[int]
    pid: int
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    share: float = float("nan")

    def _sample(self) -> tuple[float, float, float]:
        return time.monotonic(), cpu_busy_s(self.cpus), process_tree_cpu_s(self.pid)

    def start(self) -> ForeignCpu:
        self._start = self._sample()
        return self

    def stop(self) -> float:
        wall, busy, own = (
            end - begin for end, begin in zip(self._sample(), self._start, strict=True)
        )
        self.share = max(0.0, busy - own) / wall if wall > 0 else float("nan")
        return self.share
