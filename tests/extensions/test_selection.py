"""Which extension file loads, and how loading fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drum_bridge import ConfigError, ExtensionError, ServerType, create_app
from drum_bridge.config.sources import server_type_from_env

from .conftest import MakeDir, config_for

Serve = Callable[..., TestClient]

FLASK = """
def init_app(app):
    @app.route("/which")
    def which():
        return {"style": "flask"}
"""
FASTAPI = """
def init_app(app):
    @app.get("/which")
    def which():
        return {"style": "fastapi"}
"""
BOTH = {"custom_flask.py": FLASK, "custom_fastapi.py": FASTAPI}


@pytest.mark.parametrize(
    ("server_type", "style"),
    [
        (ServerType.FASTAPI, "fastapi"),
        (ServerType.FLASK, "flask"),
        (ServerType.GUNICORN, "flask"),
        (ServerType.WERKZEUG, "flask"),
    ],
)
def test_server_type_picks_the_preferred_file(
    serve: Serve, server_type: ServerType, style: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="drum_bridge")
    client = serve(BOTH, server_type=server_type)
    assert client.get("/which").json() == {"style": style}
    skipped, preferred = ("custom_flask.py", "custom_fastapi.py")[:: 1 if style == "fastapi" else -1]
    skip_line = rf"Skipping /\S+/{skipped}: server type '{server_type.value}' prefers {preferred}"
    assert re.search(skip_line, caplog.text), caplog.text
    assert f"Successfully loaded {'FastAPI' if style == 'fastapi' else 'Flask'} extensions" in caplog.text


@pytest.mark.parametrize("only", ["custom_flask.py", "custom_fastapi.py"])
@pytest.mark.parametrize("server_type", [ServerType.FASTAPI, ServerType.FLASK])
def test_a_lone_file_always_loads(serve: Serve, only: str, server_type: ServerType) -> None:
    client = serve({only: BOTH[only]}, server_type=server_type)
    assert client.get("/which").json() == {"style": "flask" if only == "custom_flask.py" else "fastapi"}


def test_load_all_loads_both_with_fastapi_routes_first(serve: Serve) -> None:
    client = serve({**BOTH, "custom_fastapi.py": FASTAPI.replace("/which", "/fast")}, load_all_extensions=True)
    assert client.get("/fast").json() == {"style": "fastapi"}
    assert client.get("/which").json() == {"style": "flask"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": '{"type":"string","payload":"flask"}'}, ServerType.FLASK),
        ({"MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": "gunicorn"}, ServerType.GUNICORN),
        ({"DRUM_SERVER_TYPE": "werkzeug"}, ServerType.WERKZEUG),
        ({}, ServerType.FASTAPI),
    ],
)
def test_server_type_sources(env: dict[str, str], expected: ServerType) -> None:
    assert server_type_from_env(env) is expected


def test_unknown_server_type_is_an_error() -> None:
    with pytest.raises(ConfigError, match="Unknown DRUM server type 'tornado'"):
        server_type_from_env({"DRUM_SERVER_TYPE": "tornado"})


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"custom_flask.py": FLASK, "sub__custom_flask.py": FLASK}, "Found more than one custom_flask.py"),
        ({"custom_fastapi.py": "x = 1\n"}, "must define a function init_app"),
        ({"custom_flask.py": "import not_a_module_anywhere\n"},
         "raised ModuleNotFoundError while importing: No module named 'not_a_module_anywhere'"),
        ({"custom_fastapi.py": "raise RuntimeError('kaboom')\n"}, "failed while importing: RuntimeError('kaboom')"),
        ({"custom_flask.py": "def init_app(app):\n    raise ValueError('nope')\n"}, "init_app() of"),
    ],
    ids=["two-files", "no-init-app", "import-error-inside", "crash-on-import", "init-app-fails"],
)
def test_extension_failures_are_clear(make_model_dir: MakeDir, files: dict[str, str], message: str) -> None:
    code_dir = make_model_dir(**files)
    with pytest.raises(ExtensionError) as caught:
        create_app(config_for(code_dir))
    assert message in str(caught.value)
    if len(files) == 2:
        assert str(code_dir / "sub" / "custom_flask.py") in str(caught.value)


def test_extension_failure_serves_513_with_error_server(make_model_dir: MakeDir) -> None:
    code_dir = make_model_dir(**{"custom_flask.py": "import not_a_module_anywhere\n"})
    with TestClient(create_app(config_for(code_dir, with_error_server=True))) as client:
        for response in (client.get("/ping/"), client.post("/predict/", content=b"a\n1\n")):
            assert response.status_code == 513
            assert "No module named 'not_a_module_anywhere'" in response.json()["message"]
            assert response.json()["message"].startswith("ERROR: ")
        assert client.get("/info/").status_code == 404


def test_extensions_in_hidden_folders_are_ignored(make_model_dir: MakeDir) -> None:
    code_dir: Path = make_model_dir(**{".venv__custom_flask.py": "raise RuntimeError('not me')\n"})
    with TestClient(create_app(config_for(code_dir))) as client:
        assert client.get("/ping/").status_code == 200
