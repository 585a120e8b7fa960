"""Model calls are bounded: 504 past the request timeout, 503 with ``Retry-After`` when every
model thread is busy and the queue is full; ``/ping/`` never waits behind scoring, and the
server answers normally right afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.app import drum_client, predict, server_config
from support.model_dirs import SLEEPY_MODEL, write_custom_py
from support.server import wait_for


def _csv(seconds: float) -> bytes:
    return f"sleep\n{seconds}\n".encode()


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    return write_custom_py(tmp_path / "model", SLEEPY_MODEL)


@pytest.fixture
def client(code_dir: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with drum_client(server_config(code_dir, "regression", *request.param)) as client:
        yield client


@pytest.mark.parametrize("client", [("--request-timeout", "0.3", "--model-threads", "2")], indirect=True)
def test_a_model_past_the_request_timeout_answers_504_and_the_server_goes_on(client: TestClient) -> None:
    response = predict(client, _csv(3))
    assert response.status_code == 504
    assert response.json() == {
        "message": "ERROR: The model did not answer within the request timeout of 0.3 s"
        " (DRUM_CLIENT_REQUEST_TIMEOUT / --request-timeout)"
    }
    assert "X-Drum-Version" in response.headers
    # The stuck call still holds one thread; the other answers.
    assert client.get("/ping/").status_code == 200
    assert predict(client, _csv(0)).json() == {"predictions": [0.0]}


def test_the_runtime_parameter_sets_the_timeout(code_dir: Path) -> None:
    environ = {"MLOPS_RUNTIME_PARAM_DRUM_CLIENT_REQUEST_TIMEOUT": '{"type": "numeric", "payload": 0.3}'}
    with drum_client(server_config(code_dir, "regression", environ=environ)) as client:
        assert predict(client, _csv(2)).status_code == 504


@pytest.mark.parametrize(
    "client", [("--model-threads", "1", "--max-waiting-requests", "0")], indirect=True
)
def test_a_full_queue_answers_503_at_once_without_touching_the_model(
    client: TestClient, code_dir: Path
) -> None:
    with ThreadPoolExecutor(1) as background:
        running = background.submit(predict, client, _csv(1.5))
        started = code_dir / "started"
        wait_for(lambda: started.exists() or None, "the first call to start", timeout=15)
        started.unlink()
        refused = predict(client, _csv(0))
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["message"].startswith(
            "ERROR: The server is busy: all 1 model threads are busy and 0 requests wait"
        )
        assert not started.exists()  # the model never saw it
        assert client.get("/ping/").status_code == 200  # probes never wait behind scoring
        assert running.result(timeout=30).status_code == 200
    assert predict(client, _csv(0)).status_code == 200
