"""Operations, as a platform team runs the real server: request ids in every log line, JSON
logs, the access log switch, metrics across worker processes, worker recycling, DRUM's
gunicorn settings, and OpenTelemetry from the standard OTEL_* environment."""

from __future__ import annotations

import json
import os
import re
import socket
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.model_dirs import write_custom_py
from support.raw_http import port_of
from support.server import ServerProcess, process_tree, run_server, wait_for

pytestmark = pytest.mark.server

LOGGING_MODEL = """
import logging
import time

import pandas as pd

log = logging.getLogger("the.model")


def load_model(code_dir):
    return "m"


def score(data, model, **kwargs):
    log.warning("scoring %d rows", len(data))
    time.sleep(float(data["sleep"].iloc[0]))
    return pd.DataFrame({"Predictions": [1.0] * len(data)})
"""


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    return write_custom_py(tmp_path / "ops", LOGGING_MODEL)


def _predict(server: ServerProcess, request_id: str | None = None, **headers: str) -> httpx.Response:
    if request_id:
        headers["X-Request-ID"] = request_id
    return httpx.post(server.base_url + "/predict/", content=b"sleep\n0\n",
                      headers={"Content-Type": "text/csv", **headers}, timeout=30)


def _start(
    tmp_path: Path, code_dir: Path, *args: str, keep_stdout: bool = False,
    env: dict[str, str] | None = None,
) -> AbstractContextManager[ServerProcess]:
    return run_server(tmp_path, "--code-dir", str(code_dir), "--target-type", "regression",
                      *args, keep_stdout=keep_stdout, env=env)


def test_json_logs_carry_the_request_id_from_model_code_to_the_access_line(
    tmp_path: Path, code_dir: Path
) -> None:
    with _start(tmp_path, code_dir, "--log-format", "json", keep_stdout=True) as server:
        assert server.first_answer().status_code == 200
        response = _predict(server, "req-42")
        assert response.headers["X_Request_ID"] == "req-42"
        access = wait_for(lambda: [line for line in server.stdout.splitlines() if "req-42" in line] or None,
                          "the access line", 10)
        assert server.terminate() == 0

    errors = [json.loads(line) for line in server.stderr.splitlines() if line.strip()]
    (model_line,) = [entry for entry in errors if entry["logger"] == "the.model"]
    assert model_line["request_id"] == "req-42"
    assert model_line["message"] == "scoring 1 rows"
    assert model_line["level"] == "WARNING"
    assert {entry["request_id"] for entry in errors if entry["logger"] != "the.model"} == {"-"}
    (line,) = access
    entry = json.loads(line)
    assert (entry["request_id"], entry["method"], entry["path"], entry["status"]) == ("req-42", "POST", "/predict/", 200)


def test_text_logs_carry_the_request_id_and_the_access_log_can_be_off(
    tmp_path: Path, code_dir: Path
) -> None:
    with _start(tmp_path, code_dir, "--access-log", "off", keep_stdout=True) as server:
        assert server.first_answer().status_code == 200
        assert _predict(server, "req-7").status_code == 200
        assert server.terminate() == 0

    assert re.search(r"WARNING the\.model \[req-7\]: scoring 1 rows", server.stderr)
    assert server.stdout == ""


def _total(text: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "drum_bridge_requests_total" and sample.labels["route"] == route
    )


@pytest.mark.slow
def test_one_scrape_sees_every_worker_and_the_directory_is_removed(tmp_path: Path, code_dir: Path) -> None:
    with _start(tmp_path, code_dir, "--max-workers", "2", "--logging-level", "warning") as server:
        assert server.first_answer().status_code == 200
        workers = wait_for(lambda: (tree := process_tree(server.process.pid)[1:]) and len(tree) >= 2 and tree or None,
                           "two workers", 30)
        environ = Path(f"/proc/{workers[0]}/environ").read_bytes().split(b"\0")
        (directory,) = [Path(v.split(b"=", 1)[1].decode()) for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
        pids = set()
        for _ in range(20):
            pids.add(httpx.get(server.base_url + "/stats/", timeout=10).json()["drum_info"][0]["pid"])
            assert _predict(server).status_code == 200
        # Each worker writes its counts at most a second late (the one scraped, at once).
        wait_for(lambda: _total(httpx.get(server.base_url + "/metrics", timeout=10).text, "/predict/") == 20
                 or None, "every worker's counts", 10)
        scrapes = [httpx.get(server.base_url + "/metrics", timeout=10).text for _ in range(4)]
        assert directory.is_dir()
        assert server.terminate() == 0

    assert len(pids) == 2, "both workers answered"
    assert {_total(text, "/predict/") for text in scrapes} == {20.0}
    assert not directory.exists()


@pytest.mark.slow
def test_max_requests_replaces_the_worker_without_refusing_a_request(tmp_path: Path, code_dir: Path) -> None:
    with _start(tmp_path, code_dir, "--max-requests", "4", "--logging-level", "info") as server:
        assert server.first_answer().status_code == 200
        pids = []
        for _ in range(12):
            response = httpx.get(server.base_url + "/stats/", timeout=30)
            assert response.status_code == 200
            pids.append(response.json()["drum_info"][0]["pid"])
        assert server.terminate() == 0

    assert len(set(pids)) >= 2, pids  # replaced at least once (an exiting worker serves what it accepted)
    assert "died" in server.stderr


def test_drums_gunicorn_runtime_parameters_set_the_server(tmp_path: Path, code_dir: Path) -> None:
    param = "MLOPS_RUNTIME_PARAM_"
    env = {
        f"{param}DRUM_GUNICORN_KEEP_ALIVE": json.dumps({"type": "numeric", "payload": 0}),
        f"{param}DRUM_GUNICORN_GRACEFUL_TIMEOUT": json.dumps({"type": "numeric", "payload": 3}),
        f"{param}DRUM_GUNICORN_WORKER_CLASS": json.dumps({"type": "string", "payload": "gevent"}),
    }
    with _start(tmp_path, code_dir, env=env) as server:
        assert server.first_answer().status_code == 200
        # Keep-alive 0: the server closes the connection once the response is sent.
        with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as sock:
            sock.sendall(b"GET /ping/ HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):  # b"" once the server closed it; a timeout fails
                received += chunk
        assert received.startswith(b"HTTP/1.1 200 ")
        assert server.terminate() == 0

    assert re.search(r"MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_WORKER_CLASS is ignored: drum-bridge's workers are"
                     r" uvicorn event loops", server.stderr)


def test_otel_console_exporter_prints_drum_spans_continuing_traceparent(
    tmp_path: Path, code_dir: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "churn-model"}
    with _start(tmp_path, code_dir, keep_stdout=True, env=env) as server:
        assert server.first_answer().status_code == 200
        response = _predict(server, traceparent=f"00-{trace_id}-00f067aa0ba902b7-01")
        assert response.status_code == 200
        assert server.terminate() == 0  # the spans still buffered are exported on the way out

    spans = server.stdout
    assert '"name": "drum.invocations"' in spans
    assert f'"trace_id": "0x{trace_id}"' in spans
    assert '"service.name": "churn-model"' in spans


def test_otel_asked_for_without_an_exporter_stops_start_up(tmp_path: Path, code_dir: Path) -> None:
    env = {"OTEL_TRACES_EXPORTER": "no-such-exporter"}
    with _start(tmp_path, code_dir, env=env) as server:
        assert server.exit_code(60) == 1
    assert "no span exporter named 'no-such-exporter' is installed" in server.stderr
    assert os.environ.get("OTEL_TRACES_EXPORTER") is None
