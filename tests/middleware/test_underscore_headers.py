"""Request headers named with ``_`` never reach a hook or the model as if spelled with ``-``."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.app import drum_client, server_config
from support.model_dirs import fitted_regressor, write_pickle

AUTH_HOOK = """
from flask import jsonify, request

def init_app(app):
    @app.before_request
    def check_auth():
        if request.endpoint != "model_api.ping" and request.headers.get("X-Auth") != "t0k3n":
            return jsonify(message="Unauthorized"), 401
"""
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
    (code_dir / "custom_flask.py").write_text(AUTH_HOOK)
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
