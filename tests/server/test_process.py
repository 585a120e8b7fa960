"""The real ``drum server`` process: start-up, serving, failing to load, SIGTERM."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from support.model_dirs import SAMPLES_CSV, fitted_regressor, write_pickle
from support.server import ServerProcess, run_server, wait_for

pytestmark = [pytest.mark.server, pytest.mark.timeout(60)]

REGRESSION = ("--target-type", "regression")
NO_FRAMEWORK = (
    "ERROR: An error occurred when loading your artifact: \n\nRunning environment language:"
    " Python.\nCould not find any framework to handle loaded model and a score hook is not provided"
)


@pytest.fixture
def regressor_dir(tmp_path: Path) -> Path:
    return write_pickle(tmp_path / "model", fitted_regressor())


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    """A code dir whose only artifact is no model any framework can score."""
    return write_pickle(tmp_path / "broken", {"not": "a model"})


def assert_predicts(server: ServerProcess) -> None:
    response = httpx.post(server.base_url + "/predict/", files={"X": ("X.csv", SAMPLES_CSV)})
    assert response.status_code == 200
    assert response.json() == {"predictions": pytest.approx([5.0, 11.0])}


def test_serves_and_stops_cleanly_on_sigterm(tmp_path: Path, regressor_dir: Path) -> None:
    with run_server(tmp_path, "--code-dir", str(regressor_dir), *REGRESSION) as server:
        ping = server.first_answer()
        assert (ping.status_code, ping.json()) == (200, {"message": "OK"})
        assert_predicts(server)

        assert server.terminate() == 0


def test_model_that_fails_to_load_ends_the_process_with_the_cause(
    tmp_path: Path, broken_dir: Path
) -> None:
    with run_server(tmp_path, "--code-dir", str(broken_dir), *REGRESSION) as server:
        assert server.exit_code(timeout=30) != 0

        causes = [line for line in server.stderr.splitlines() if "Could not find any framework" in line]
        assert len(causes) == 1, server.stderr


def test_error_server_answers_513_when_the_model_fails_to_load(
    tmp_path: Path, broken_dir: Path
) -> None:
    args = ("--code-dir", str(broken_dir), *REGRESSION, "--with-error-server")
    with run_server(tmp_path, *args) as server:
        ping = server.first_answer()
        assert (ping.status_code, ping.json()) == (513, {"message": NO_FRAMEWORK})

        assert server.terminate() == 0


def test_max_workers_serves_from_that_many_processes(tmp_path: Path, regressor_dir: Path) -> None:
    args = ("--code-dir", str(regressor_dir), *REGRESSION, "--max-workers", "2")
    with run_server(tmp_path, *args) as server:
        assert server.first_answer().status_code == 200
        assert_predicts(server)

        def worker_pids() -> set[str] | None:
            pids = set(re.findall(r"Started server process \[(\d+)\]", server.stderr))
            return pids if len(pids) >= 2 else None

        assert len(wait_for(worker_pids, "two worker processes", timeout=30)) == 2
        assert server.terminate() == 0
        wait_for(lambda: server.group_is_gone() or None, "the workers to exit", timeout=15)
