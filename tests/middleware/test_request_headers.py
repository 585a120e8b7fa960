"""Request headers named with ``_`` never reach a hook or the model as if spelled with ``-``."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.app import drum_client, server_config
from support.model_dirs import X_AUTH_HOOK, fitted_regressor, write_pickle

HEADER_ECHO = """
from fastapi import Request

def init_app(app):
    @app.get("/headers")
    async def headers(request: Request):
        return sorted(request.headers.keys())
"""


@pytest.mark.parametrize("inline", [False, True], ids=["threaded", "inline"])
def test_x_auth_with_an_underscore_does_not_pass_a_hook_checking_x_auth(tmp_path: Path, inline: bool) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    (code_dir / "custom_flask.py").write_text(X_AUTH_HOOK)
    extra = ("--flask-hooks-inline",) if inline else ()
    with drum_client(server_config(code_dir, "regression", *extra)) as client:
        csv = {"Content-Type": "text/csv"}
        assert client.post("/predict/", content=b"a,b\n1,2\n", headers={**csv, "X_Auth": "t0k3n"}).status_code == 401
        assert client.post("/predict/", content=b"a,b\n1,2\n", headers={**csv, "X-Auth": "t0k3n"}).status_code == 200


def test_underscore_headers_are_dropped_before_routes(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    (code_dir / "custom_fastapi.py").write_text(HEADER_ECHO)
    with drum_client(server_config(code_dir, "regression")) as client:
        names = client.get("/headers", headers={"X_Secret": "1", "X-Kept": "2"}).json()
    assert "x-kept" in names
    assert not any("_" in name or name == "x-secret" for name in names)


def test_headers_past_the_limit_are_answered_431_and_the_server_goes_on(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    with drum_client(server_config(code_dir, "regression", "--max-header-size", "4096")) as client:
        response = client.get("/ping/", headers={"X-Big": "v" * 5000})
        assert response.status_code == 431
        assert response.json()["message"].startswith("ERROR: Request headers are ")
        assert response.json()["message"].endswith(
            "more than the limit of 4096 (set by --max-header-size / DRUM_BRIDGE_MAX_HEADER_SIZE)"
        )
        assert "X-Drum-Version" in response.headers
        assert client.get("/ping/", headers={"X-Small": "v" * 1000}).status_code == 200


def test_a_host_header_werkzeug_cannot_read_is_answered_400_on_every_path(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    (code_dir / "custom_flask.py").write_text("def init_app(app):\n    pass\n")
    bad_host = {"Host": "a" * 64 + ".example.com"}
    with drum_client(server_config(code_dir, "regression")) as client:
        for path in ("/ping/", "/predict", "/info/", "/no-such-path"):
            response = client.get(path, headers=bad_host)
            assert response.status_code == 400, path
            assert response.json()["message"].startswith("ERROR: 400 Bad Request"), path
            assert "X-Drum-Version" in response.headers
        assert client.get("/ping/").status_code == 200
