"""Every example of the migration guide users have works verbatim (files in guide/)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from .conftest import CSV, guide_file

Serve = Callable[..., TestClient]


@pytest.mark.parametrize(
    ("file", "settings"),
    [
        ("custom_flask.py", {}),
        ("custom_flask.py", {"flask_hooks_inline": True}),
        ("custom_fastapi.py", {}),
    ],
    ids=["flask-threaded", "flask-inline", "fastapi"],
)
def test_auth_examples_guard_drum_routes(serve: Serve, file: str, settings: dict[str, object]) -> None:
    source = guide_file("flask_auth.py" if file == "custom_flask.py" else "fastapi_auth.py")
    client = serve({file: source}, **settings)
    assert client.get("/ping/").json() == {"message": "OK"}
    denied = client.post("/predict/", content=CSV, headers={"Content-Type": "text/csv"})
    assert (denied.status_code, denied.json()) == (401, {"message": "Unauthorized"})
    assert client.get("/info/", headers={"X-Auth-Token": "wrong"}).status_code == 401
    allowed = client.post(
        "/predict/", content=CSV, headers={"Content-Type": "text/csv", "X-Auth-Token": "secret"}
    )
    assert allowed.status_code == 200 and len(allowed.json()["predictions"]) == 2
    assert client.get("/info/", headers={"X-Auth-Token": "secret"}).json()["drumServer"] == "fastapi"


@pytest.mark.parametrize("file", ["custom_flask.py", "custom_fastapi.py"])
def test_custom_route_examples(serve: Serve, file: str) -> None:
    source = guide_file("flask_route.py" if file == "custom_flask.py" else "fastapi_route.py")
    client = serve({file: source})
    response = client.get("/custom/status")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "x-drum-version" in response.headers
    assert client.get("/ping/").status_code == 200


def test_both_guide_styles_in_one_process(serve: Serve) -> None:
    client = serve(
        {"custom_flask.py": guide_file("flask_auth.py"), "custom_fastapi.py": guide_file("fastapi_route.py")},
        load_all_extensions=True,
    )
    assert client.get("/custom/status").status_code == 401
    assert client.get("/custom/status", headers={"X-Auth-Token": "secret"}).json() == {"status": "ok"}
