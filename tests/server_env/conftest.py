"""Fixtures of the ``server/`` environment's tests: servers started in their own session and
always killed, a free loopback address, a model to serve."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from dropin_env import Launch, Started
from support.model_dirs import fitted_regressor, write_pickle
from support.server import free_port


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start ``command`` with environment ``env`` in its own session; killed (with its
    workers) when the test ends."""
    started: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], env: Mapping[str, str]) -> Started:
        number = len(started)
        stdout_path = tmp_path / f"server{number}.stdout"
        stderr_path = tmp_path / f"server{number}.stderr"
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                command, cwd=tmp_path, env=dict(env), stdout=stdout, stderr=stderr,
                start_new_session=True,
            )
        started.append(process)
        address = env.get("ADDRESS", "")
        return Started(process, f"http://{address}", stderr_path, stdout_path)

    yield start
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


@pytest.fixture
def address() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def regressor_dir(tmp_path: Path) -> Path:
    """y = a + 2b, an artifact-only code dir (no custom.py)."""
    return write_pickle(tmp_path / "model", fitted_regressor())
