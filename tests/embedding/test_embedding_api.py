"""``create_app(code_dir=..., target_type=..., **settings)``: Config's names and checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.app import server_config

import drum_bridge
from drum_bridge import (
    AppSettings,
    Config,
    ConfigError,
    DrumApp,
    ServerType,
    TargetType,
    create_app,
)

from .conftest import CSV, CSV_HEADERS, host_with, write_model

BINARY = """
import pandas as pd

def load_model(code_dir):
    return "fixed odds"

def score(data, model, **kwargs):
    return pd.DataFrame({"stay": [0.25] * len(data), "leave": [0.75] * len(data)})
"""
FASTAPI_ROUTE = """
def init_app(app):
    @app.get("/hello")
    async def hello():
        return {"hello": "fastapi"}
"""
FLASK_ROUTE = """
def init_app(app):
    @app.route("/legacy")
    def legacy():
        return {"hello": "flask"}
"""


def test_every_config_field_is_a_keyword() -> None:
    keywords = set(AppSettings.__optional_keys__) | {"code_dir", "target_type"}
    assert keywords == {field.name for field in dataclasses.fields(Config)}


def test_the_mounted_app_serves_the_drum_api_under_the_mount(tmp_path: Path) -> None:
    code_dir = tmp_path / "churn"
    code_dir.mkdir()
    (code_dir / "custom.py").write_text(BINARY)
    churn = drum_bridge.create_app(
        code_dir=str(code_dir), target_type="binary",
        positive_class_label="leave", negative_class_label="stay",
    )
    with TestClient(host_with(models=host_with(churn=churn))) as client:
        predicted = client.post("/models/churn/predict/", content=CSV, headers=CSV_HEADERS)
        info = client.get("/models/churn/info/")

    assert predicted.status_code == 200, predicted.text
    assert predicted.json() == {"predictions": [{"leave": 0.75, "stay": 0.25}] * 2}
    assert predicted.headers["X-Drum-Version"]
    assert info.json()["targetType"] == "binary"
    assert info.json()["positiveClassLabel"] == "leave"


def test_keywords_make_the_config_the_cli_makes(tmp_path: Path) -> None:
    code_dir = write_model(tmp_path / "model")
    (code_dir / "model-metadata.yaml").write_text("name: counting\ntargetType: multiclass\n")
    from_cli = server_config(code_dir, "multiclass", "--class-labels", "a", "b", "c",
                             "--max-body-size", "1000", "--with-error-server")

    app = create_app(code_dir=code_dir, target_type=TargetType.MULTICLASS, class_labels=["a", "b", "c"],
                     max_body_size=1000, with_error_server=True, host="127.0.0.1", port=8080)

    assert app.drum_runtime.config == from_cli
    assert app.drum_runtime.config.model_metadata == from_cli.model_metadata


def test_string_settings_are_read_as_the_cli_reads_them(model_dir: Path) -> None:
    config = create_app(code_dir=str(model_dir), target_type="Regression", server_type="flask").drum_runtime.config

    assert config.code_dir == model_dir.resolve()
    assert config.target_type is TargetType.REGRESSION
    assert config.server_type is ServerType.FLASK


def test_unknown_keywords_are_a_type_error_naming_them(model_dir: Path) -> None:
    with pytest.raises(TypeError, match="unknown settings: max_threads, url_prefx"):
        create_app(code_dir=model_dir, target_type="regression", url_prefx="/v1", max_threads=2)  # type: ignore[call-overload]


@pytest.mark.parametrize(("settings", "message"), [
    ({"target_type": "regresion"}, "Unknown target type 'regresion'; choose one of: regression"),
    ({"target_type": "binary"}, "A binary model needs --positive-class-label"),
    ({"target_type": "regression", "model_threads": 0}, "model_threads must be a whole number of at least 1"),
    ({"target_type": "regression", "url_prefix": "v1"}, "must start with '/'"),
    ({"target_type": "multiclass", "class_labels": "ab"}, "class_labels must be a sequence of labels"),
    ({"target_type": "regression", "server_type": "tornado"}, "Unknown DRUM server type 'tornado'"),
])
def test_values_are_checked_as_config_checks_them(
    model_dir: Path, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        create_app(code_dir=model_dir, **settings)  # type: ignore[call-overload]


def test_a_missing_code_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a directory"):
        create_app(code_dir=tmp_path / "nowhere", target_type="regression")


def test_code_dir_and_target_type_are_required(model_dir: Path) -> None:
    with pytest.raises(TypeError, match=r"missing: target_type"):
        create_app(code_dir=model_dir)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"missing: code_dir, target_type"):
        create_app()  # type: ignore[call-overload]


def test_a_config_and_settings_together_are_a_type_error(model_dir: Path) -> None:
    config = Config(code_dir=model_dir, target_type=TargetType.REGRESSION)
    with pytest.raises(TypeError, match="not both .got model_threads"):
        create_app(config, model_threads=2)  # type: ignore[call-overload]


def test_create_app_of_a_config_still_serves(model_dir: Path) -> None:
    app = create_app(Config(code_dir=model_dir, target_type=TargetType.REGRESSION))
    with TestClient(app) as client:
        assert client.post("/predict/", content=CSV, headers=CSV_HEADERS).json() == {"predictions": [1.0, 2.0]}


def test_drum_app_is_built_from_a_config(model_dir: Path) -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'config'"):
        DrumApp()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="DrumApp.. takes a Config, got str; or use drum_bridge.create_app"):
        DrumApp(str(model_dir))  # type: ignore[arg-type]

    app = DrumApp(Config(code_dir=model_dir, target_type=TargetType.REGRESSION))
    with TestClient(app) as client:
        assert client.post("/predict/", content=CSV, headers=CSV_HEADERS).json() == {"predictions": [1.0, 2.0]}


@pytest.mark.parametrize(("files", "path", "body"), [
    ({"custom_fastapi.py": FASTAPI_ROUTE}, "/hello", {"hello": "fastapi"}),
    ({"custom_flask.py": FLASK_ROUTE}, "/legacy", {"hello": "flask"}),
], ids=["fastapi", "flask"])
def test_extension_routes_are_served_under_the_mount(
    tmp_path: Path, files: dict[str, str], path: str, body: dict[str, str]
) -> None:
    model = create_app(code_dir=write_model(tmp_path / "model", **files), target_type="regression")
    with TestClient(host_with(model=model)) as client:
        answer = client.get(f"/model{path}")
        predicted = client.post("/model/predict/", content=CSV, headers=CSV_HEADERS)
        missing = client.get(path)

    assert (answer.status_code, answer.json()) == (200, body)
    assert predicted.json() == {"predictions": [1.0, 2.0]}
    assert missing.status_code == 404
