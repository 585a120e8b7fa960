"""SIGTERM as an orchestrator expects it: queued scoring answered 503 at once, requests in flight
finish within the grace period, a stuck model never holds the process past it, and a second
signal ends the process at once."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from support.model_dirs import SLEEPY_MODEL, write_custom_py
from support.server import ServerProcess, run_server, wait_for

pytestmark = pytest.mark.server


def _predict(server: ServerProcess, seconds: float, timeout: float = 60) -> httpx.Response:
    return httpx.post(server.base_url + "/predict/", content=f"sleep\n{seconds}\n",
                      headers={"Content-Type": "text/csv"}, timeout=timeout)


def _in_background(server: ServerProcess, seconds: float, answers: list[object]) -> threading.Thread:
    def call() -> None:
        try:
            answers.append(_predict(server, seconds))
        except httpx.HTTPError as exc:
            answers.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    return write_custom_py(tmp_path / "model", SLEEPY_MODEL)


def _start(tmp_path: Path, code_dir: Path, *args: str) -> object:
    return run_server(tmp_path, "--code-dir", str(code_dir), "--target-type", "regression",
                      "--model-threads", "1", "--logging-level", "warning", *args)


def test_queued_calls_get_503_and_the_running_one_finishes(tmp_path: Path, code_dir: Path) -> None:
    with _start(tmp_path, code_dir, "--max-waiting-requests", "3", "--graceful-timeout", "15") as server:
        assert server.first_answer().status_code == 200
        running: list[object] = []
        threads = [_in_background(server, 2, running)]
        wait_for(lambda: (code_dir / "started").exists() or None, "the first call to run", 15)
        # Four calls for three places: once one is refused as busy, the other three wait.
        queued: list[object] = []
        threads += [_in_background(server, 0, queued) for _ in range(4)]
        wait_for(lambda: queued or None, "a call refused as busy", 15)

        server.process.terminate()
        for thread in threads:
            thread.join(30)
        messages = sorted(
            answer.json()["message"] for answer in queued
            if isinstance(answer, httpx.Response) and answer.status_code == 503
            and answer.headers["Retry-After"] == "1"
        )
        assert len(messages) == 4, queued
        assert messages[0].startswith("ERROR: The server is busy")
        assert messages[1:] == ["ERROR: The server is shutting down; retry on another replica"] * 3
        assert [getattr(r, "status_code", r) for r in running] == [200]
        assert server.exit_code(timeout=15) == 0


def test_a_stuck_model_does_not_hold_the_process_past_the_grace_period(
    tmp_path: Path, code_dir: Path
) -> None:
    with _start(tmp_path, code_dir, "--graceful-timeout", "2") as server:
        assert server.first_answer().status_code == 200
        answers: list[object] = []
        _in_background(server, 120, answers)
        wait_for(lambda: (code_dir / "started").exists() or None, "the call to run", 15)
        signalled = time.monotonic()
        server.process.terminate()
        assert server.exit_code(timeout=30) == 0
        # The grace period, a second for the rest, and slack for a loaded machine.
        assert time.monotonic() - signalled < 2 + 1 + 2


def test_a_second_sigterm_during_the_drain_ends_the_process_at_once(
    tmp_path: Path, code_dir: Path
) -> None:
    with _start(tmp_path, code_dir, "--graceful-timeout", "60") as server:
        assert server.first_answer().status_code == 200
        answers: list[object] = []
        _in_background(server, 120, answers)
        wait_for(lambda: (code_dir / "started").exists() or None, "the call to run", 15)
        server.process.terminate()
        wait_for(lambda: "Signal 15: draining" in server.stderr or None, "the drain to begin", 10)
        signalled = time.monotonic()
        server.process.terminate()
        assert server.exit_code(timeout=10) == 1
        assert time.monotonic() - signalled < 5
        assert "Signal 15 during the drain: killing the workers now" in server.stderr


EXITING_MODEL = """
import os

import pandas as pd


def load_model(code_dir):
    return "model"


def score(data, model, **kwargs):
    if data["exit"].iloc[0]:
        os._exit(1)  # as a crash in native code would
    return pd.DataFrame({"Predictions": [1.0] * len(data)})
"""


def test_a_worker_that_dies_is_replaced_in_the_one_worker_mode(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "exiting", EXITING_MODEL)
    with run_server(tmp_path, "--code-dir", str(code_dir), "--target-type", "regression") as server:
        assert server.first_answer().status_code == 200

        def predict(exit_now: int) -> httpx.Response:
            return httpx.post(server.base_url + "/predict/", content=f"exit\n{exit_now}\n",
                              headers={"Content-Type": "text/csv"}, timeout=30)

        with pytest.raises(httpx.HTTPError):
            predict(1)  # the worker is gone mid-request: the connection drops
        # A new worker serves again: the server as a whole never went down.
        assert server.first_answer(timeout=60).status_code == 200
        assert predict(0).json() == {"predictions": [1.0]}
        assert re.search(r"Child process \[\d+\] died", server.stderr), server.stderr
        assert server.process.poll() is None
        assert server.terminate() == 0
