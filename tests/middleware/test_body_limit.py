"""The body limit (``--max-body-size``): 413 in DRUM's shape wherever a body is read, and the
server answers the next request as usual."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.app import drum_client, predict, server_config
from support.model_dirs import fitted_regressor, write_pickle

LIMIT = 64 * 1024
MESSAGE = f"ERROR: Request body is larger than the limit of {LIMIT} bytes"
FASTAPI_ROUTE = """
from fastapi import Request

def init_app(app):
    @app.post("/echo-size")
    async def echo_size(request: Request):
        return {"size": len(await request.body())}
"""
FLASK_ROUTE = """
from flask import request

def init_app(app):
    @app.route("/flask-size", methods=["POST"])
    def flask_size():
        return {"size": len(request.get_data())}
"""


def _chunks(size: int) -> Iterator[bytes]:
    """A body of ``size`` bytes sent chunked (no Content-Length): counted as it arrives."""
    yield b"a,b\n"
    sent = 4
    while sent < size:
        yield b"1,2\n" * 1024
        sent += 4096


@pytest.fixture
def client(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    for name, source in getattr(request, "param", {}).items():
        (code_dir / name).write_text(source)
    config = server_config(code_dir, "regression", "--max-body-size", str(LIMIT), "--load-all-extensions")
    with drum_client(config) as client:
        yield client


def _assert_refused(response: object, *, exact: bool = True) -> None:
    assert response.status_code == 413  # type: ignore[attr-defined]
    message = response.json()["message"]  # type: ignore[attr-defined]
    assert message.startswith(MESSAGE), message
    assert "X-Drum-Version" in response.headers  # type: ignore[attr-defined]


def test_a_declared_length_over_the_limit_is_refused_before_reading(client: TestClient) -> None:
    response = client.post("/predict/", content=b"a,b\n" + b"1,2\n" * LIMIT,
                           headers={"Content-Type": "text/csv"})
    _assert_refused(response)
    assert response.headers["Connection"] == "close"
    assert predict(client).status_code == 200


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(client: TestClient) -> None:
    response = client.post("/predict/", content=_chunks(4 * LIMIT), headers={"Content-Type": "text/csv"})
    _assert_refused(response)
    assert predict(client).status_code == 200


def test_a_chunked_multipart_body_over_the_limit_is_refused(client: TestClient) -> None:
    def multipart() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="X"; filename="X.csv"\r\n\r\n'
        yield from _chunks(4 * LIMIT)
        yield b"\r\n--b--\r\n"

    response = client.post("/predict/", content=multipart(),
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
    _assert_refused(response)
    assert predict(client).status_code == 200


@pytest.mark.parametrize("client", [{"custom_fastapi.py": FASTAPI_ROUTE}], indirect=True)
def test_a_custom_fastapi_route_reading_past_the_limit_gets_413(client: TestClient) -> None:
    assert client.post("/echo-size", content=b"x" * 10).json() == {"size": 10}
    _assert_refused(client.post("/echo-size", content=_chunks(4 * LIMIT)))
    assert predict(client).status_code == 200


@pytest.mark.parametrize("client", [{"custom_flask.py": FLASK_ROUTE}], indirect=True)
def test_a_custom_flask_route_reading_past_the_limit_gets_flask_s_413(client: TestClient) -> None:
    assert client.post("/flask-size", content=b"x" * 10).json() == {"size": 10}
    response = client.post("/flask-size", content=_chunks(4 * LIMIT))
    assert response.status_code == 413
    assert "Request body is larger than the limit of 65536 bytes" in response.text
    assert predict(client).status_code == 200


def test_zero_means_no_limit(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    body = b"a,b\n" + b"1,2\n" * (LIMIT // 2)
    with drum_client(server_config(code_dir, "regression", "--max-body-size", "0")) as client:
        response = client.post("/predict/", content=body, headers={"Content-Type": "text/csv"})
        assert response.status_code == 200
        assert len(response.json()["predictions"]) == LIMIT // 2


def test_the_default_limit_is_100_mb(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    assert server_config(code_dir, "regression").max_body_size == 100 * 1024 * 1024
