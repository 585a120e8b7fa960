"""Model dirs and host applications for the embedding tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fastapi import FastAPI

#: A regression model that counts its loads in ``loads`` (one line per load) and may be
#: told to load slowly (``LOAD_SECONDS``) or to fail (``LOAD_ERROR``).
COUNTING_MODEL = """
import time
from pathlib import Path

import pandas as pd

LOAD_SECONDS = {load_seconds!r}
LOAD_ERROR = {load_error!r}


def load_model(code_dir):
    with open(Path(code_dir) / "loads", "a") as log:
        log.write("load\\n")
    time.sleep(LOAD_SECONDS)
    if LOAD_ERROR:
        raise ValueError(LOAD_ERROR)
    return {{"offset": {offset!r}}}


def score(data, model, **kwargs):
    return pd.DataFrame({{"Predictions": data["a"] + model["offset"]}})
"""
CSV = b"a\n1\n2\n"
CSV_HEADERS = {"Content-Type": "text/csv"}


def write_model(
    code_dir: Path, *, offset: float = 0.0, load_seconds: float = 0.0, load_error: str = "",
    **files: str,
) -> Path:
    """``code_dir`` with the counting model and ``files`` (``custom_flask.py`` ...) dedented."""
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / "custom.py").write_text(
        COUNTING_MODEL.format(load_seconds=load_seconds, load_error=load_error, offset=offset)
    )
    for name, source in files.items():
        (code_dir / name).write_text(textwrap.dedent(source))
    return code_dir


def loads(code_dir: Path) -> int:
    """How many times the model in ``code_dir`` was loaded."""
    path = code_dir / "loads"
    return len(path.read_text().splitlines()) if path.exists() else 0


def token_guard(token: str) -> str:
    """A custom_flask.py that answers 401 without ``X-Token: token`` (ping stays open)."""
    return f"""
    from flask import jsonify, request, url_for

    def init_app(app):
        @app.before_request
        def guard():
            if request.endpoint == "model_api.ping":
                return None
            if request.headers.get("X-Token") != {token!r}:
                return jsonify({{"message": "denied by {token}"}}), 401
            return None
    """


def host_with(**mounts: FastAPI) -> FastAPI:
    """A host FastAPI app with its own ``/status`` and each app mounted at ``/<name>``."""
    host = FastAPI()

    @host.get("/status")
    async def status() -> dict[str, str]:
        return {"status": "ok"}

    for name, app in mounts.items():
        host.mount(f"/{name}", app)
    return host


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return write_model(tmp_path / "model")
