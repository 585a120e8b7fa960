"""Artifact auto-loading: without a ``load_model`` hook, the one artifact at the top of the
code dir is the model.  Each way that can fail stops the start-up with DRUM's message or,
with ``--with-error-server``, is what the scoring routes answer."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.app import drum_client, predict, server_config
from support.model_dirs import SAMPLES_CSV, fitted_regressor, write_custom_py, write_pickle

from drum_bridge import ModelLoadError

LOAD_ERROR = (
    "An error occurred when loading your artifact: \n\nRunning environment language: Python.\n"
)
SCORE_ONLY = """\
import pandas as pd


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": [0.0] * len(data)})
"""


def load_error(code_dir: Path) -> str:
    """Why a regression model in ``code_dir`` does not start."""
    config = server_config(code_dir, "regression")
    with pytest.raises(ModelLoadError) as caught, drum_client(config):
        pass
    return str(caught.value)


def no_artifact_message(code_dir: Path, files: str) -> str:
    return (
        f"{LOAD_ERROR}Could not find model artifact file in: {code_dir.resolve()} supported by"
        " default predictors.\nThey support filenames with the following extensions"
        " ['.h5', '.onnx', '.pkl', '.pth'].\nIf your artifact is not supported by default"
        f" predictor, implement custom.load_model() hook.\nList of retrieved files are: {files}"
    )


@pytest.mark.parametrize("name", ["model.pkl", "Model.PKL"])
def test_the_one_top_level_artifact_is_the_model(tmp_path: Path, name: str) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor(), name=name)
    # Only the top of the code dir is searched: a pickle in a subdirectory is not an artifact.
    write_pickle(code_dir / "data", {"not": "a model"})

    with drum_client(server_config(code_dir, "regression")) as client:
        assert client.get("/info/").json()["predictor"] == "scikit-learn"
        assert predict(client).json() == {"predictions": pytest.approx([5.0, 11.0])}


def test_several_artifacts_are_refused(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    write_pickle(code_dir, fitted_regressor(), name="other.pkl")

    message = load_error(code_dir)

    assert "Multiple serialized model files found" in message
    assert "model.pkl" in message and "other.pkl" in message


def test_no_artifact_without_load_model_is_refused(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", SCORE_ONLY)

    assert load_error(code_dir) == no_artifact_message(code_dir, "custom.py")


@pytest.mark.parametrize(
    ("artifacts", "message_end"),
    [
        pytest.param(
            ["model.pkl", "other.pkl"],
            "Multiple serialized model files found. Remove extra artifacts or overwrite"
            " custom.load_model()\nList of retrieved files are:"
            " custom.py | data | model.pkl | other.pkl",
            id="several",
        ),
        pytest.param(
            [], "List of retrieved files are: custom.py | data", id="none",
        ),
    ],
)
def test_artifact_errors_list_the_whole_code_dir(
    tmp_path: Path, artifacts: list[str], message_end: str
) -> None:
    code_dir = write_custom_py(tmp_path / "model", SCORE_ONLY)
    (code_dir / "data").mkdir()
    for name in artifacts:
        write_pickle(code_dir, fitted_regressor(), name=name)

    message = load_error(code_dir)

    assert message.startswith(LOAD_ERROR)
    assert message.endswith(message_end)


@pytest.fixture
def code_dir_without_artifact(tmp_path: Path) -> Path:
    return write_custom_py(tmp_path / "model", SCORE_ONLY)


@pytest.fixture
def error_server(code_dir_without_artifact: Path) -> Iterator[TestClient]:
    config = server_config(code_dir_without_artifact, "regression", "--with-error-server")
    with drum_client(config) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), [("GET", "/ping/"), ("POST", "/predict/")])
def test_error_server_answers_513_with_the_load_error(
    error_server: TestClient, code_dir_without_artifact: Path, method: str, path: str
) -> None:
    response = error_server.request(method, path, content=SAMPLES_CSV)

    assert response.status_code == 513
    assert response.json() == {
        "message": "ERROR: " + no_artifact_message(code_dir_without_artifact, "custom.py")
    }


def test_error_server_has_no_info(error_server: TestClient) -> None:
    assert error_server.get("/info/").status_code == 404


@pytest.mark.parametrize(
    ("artifact", "package"),
    [("model.pth", "torch"), ("model.onnx", "onnxruntime"), ("model.h5", "keras")],
)
def test_artifact_of_a_framework_not_installed_names_the_package(
    tmp_path: Path, artifact: str, package: str
) -> None:
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed")
    code_dir = tmp_path / "model"
    code_dir.mkdir()
    # Never read: the framework's import fails first.
    (code_dir / artifact).write_bytes(b"weights")

    message = load_error(code_dir)

    assert f"{package!r} package" in message
    assert f"pip install {package}" in message


def test_pickle_no_framework_knows_needs_a_score_hook(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", {"weights": [1.0, 2.0]})

    assert load_error(code_dir) == (
        f"{LOAD_ERROR}Could not find any framework to handle loaded model and a score hook is"
        " not provided"
    )
