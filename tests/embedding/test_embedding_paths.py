"""Paths under a mount carry its prefix: redirects, ``url_for`` in custom_flask.py, the docs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from drum_bridge import create_app

from .conftest import CSV, CSV_HEADERS, host_with, write_model

URL_FOR = """
from flask import request, url_for

def init_app(app):
    @app.after_request
    def name_the_predict_url(response):
        response.headers["X-Predict-Url"] = url_for("model_api.predict")
        return response

    @app.route("/links")
    def links():
        return {"predict": url_for("model_api.predict"), "script_root": request.script_root}
"""


@pytest.fixture(params=["", "/v1"], ids=["no-url-prefix", "url-prefix"])
def url_prefix(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(tmp_path: Path, url_prefix: str) -> Iterator[TestClient]:
    code_dir = write_model(tmp_path / "m", **{"custom_flask.py": URL_FOR})
    model = create_app(code_dir=code_dir, target_type="regression", url_prefix=url_prefix)
    with TestClient(host_with(models=host_with(a=model)), follow_redirects=False) as client:
        yield client


def test_drum_routes_answer_under_the_mount_and_the_url_prefix(client: TestClient, url_prefix: str) -> None:
    predicted = client.post(f"/models/a{url_prefix}/predict/", content=CSV, headers=CSV_HEADERS)
    assert predicted.json() == {"predictions": [1.0, 2.0]}
    if url_prefix:
        assert client.post("/models/a/predict/", content=CSV, headers=CSV_HEADERS).status_code == 404


def test_the_slash_redirect_keeps_the_mount_prefix(client: TestClient, url_prefix: str) -> None:
    redirected = client.post(f"/models/a{url_prefix}/predict?x=1", content=CSV, headers=CSV_HEADERS)
    assert redirected.status_code == 308
    assert redirected.headers["Location"] == f"http://testserver/models/a{url_prefix}/predict/?x=1"


def test_url_for_in_hooks_and_flask_routes_carries_the_mount(client: TestClient, url_prefix: str) -> None:
    predicted = client.post(f"/models/a{url_prefix}/predict/", content=CSV, headers=CSV_HEADERS)
    links = client.get("/models/a/links")  # a user's Flask route: not under URL_PREFIX, as in DRUM

    assert predicted.headers["X-Predict-Url"] == f"/models/a{url_prefix}/predict/"
    assert links.json() == {"predict": f"/models/a{url_prefix}/predict/", "script_root": "/models/a"}


def test_the_openapi_docs_carry_the_mount(client: TestClient) -> None:
    docs = client.get("/models/a/docs")
    schema = client.get("/models/a/openapi.json")

    assert docs.status_code == 200 and "'/models/a/openapi.json'" in docs.text
    assert schema.status_code == 200 and schema.json()["servers"] == [{"url": "/models/a"}]
