"""The real ``drum server`` in a subprocess on a free port: start, poll, stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

__all__ = ["ServerProcess", "free_port", "process_tree", "rss_kib", "run_server", "wait_for"]

T = TypeVar("T")
POLL_INTERVAL = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], T | None], what: str, timeout: float) -> T:
    """Poll ``condition`` until it answers something other than None, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (result := condition()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL_INTERVAL)
    return result


@dataclass(frozen=True)
class ServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    stderr_path: Path
    stdout_path: Path | None = None

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    @property
    def stdout(self) -> str:
        """What the server wrote to stdout (the access log), when ``run_server`` kept it."""
        assert self.stdout_path is not None, "run_server(..., keep_stdout=True) keeps it"
        return self.stdout_path.read_text()

    def first_answer(self, path: str = "/ping/", timeout: float = 30) -> httpx.Response:
        """The first answer to ``GET path`` once the server listens (any status)."""

        def answer() -> httpx.Response | None:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.process.returncode}:\n{self.stderr}"
                )
            try:
                return httpx.get(self.base_url + path, timeout=5)
            except httpx.TransportError:
                return None

        return wait_for(answer, f"GET {path} on {self.base_url}", timeout)

    def exit_code(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server still running after {timeout}s:\n{self.stderr}") from None

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.exit_code(timeout)

    def group_is_gone(self) -> bool:
        """No process of the server's group (workers included) is left."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return True
        return False


@contextmanager
def run_server(
    workdir: Path, *args: str, keep_stdout: bool = False, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """``drum server --address 127.0.0.1:<free port> ARGS``, killed (with its workers) at exit.

    ``env``: variables added to this process's environment for the server.
    """
    port = free_port()
    stderr_path = workdir / "server.stderr"
    stdout_path = workdir / "server.stdout" if keep_stdout else None
    command = [sys.executable, "-m", "drum_bridge.cli", "server",
               "--address", f"127.0.0.1:{port}", *args]
    with stderr_path.open("wb") as stderr, (
        stdout_path.open("wb") if stdout_path else open(os.devnull, "wb")
    ) as stdout:
        # Its own session, so that the worker processes can be found (and killed) as a group.
        process = subprocess.Popen(
            command, cwd=workdir, stdout=stdout, stderr=stderr, start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    try:
        yield ServerProcess(process, f"http://127.0.0.1:{port}", stderr_path, stdout_path)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (the supervising parent and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def rss_kib(root: int) -> int:
    """The summed VmRSS of the server's process tree."""
    total = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total
