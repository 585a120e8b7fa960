"""DRUM custom tasks: a custom.py whose ``CustomTask`` implements one of DRUM's interfaces,
trained and saved as `drum fit` does (pickled as ``custom.CustomTask`` into
``drum_artifact.pkl``), then served: ``/transform/`` and ``/predict/`` as DRUM 1.18.1
answers them (recorded with real DRUM on the same task shapes)."""

from __future__ import annotations

import importlib.util
import json
import logging
import pickle
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from support.app import predict
from support.contract import multipart_parts
from support.scoring import BINARY_LABELS, serve

from drum_bridge.compat.provide import provide_datarobot_drum

#: The shape of DRUM's transform fixture (missing values filled with the training medians).
TRANSFORM_TASK = """
from datarobot_drum.custom_task_interfaces import TransformerInterface


class CustomTask(TransformerInterface):
    def fit(self, X, y, **kwargs):
        self.medians = X.median(axis=0, numeric_only=True).to_dict()
        return self

    def transform(self, X):
        return X.fillna(self.medians) * 2
"""
REGRESSION_TASK = """
import pandas as pd
from datarobot_drum.custom_task_interfaces import RegressionEstimatorInterface


class CustomTask(RegressionEstimatorInterface):
    def fit(self, X, y, **kwargs):
        self.mean = float(y.mean())
        return self

    def predict(self, X, **kwargs):
        seen = {"kwargs": sorted(kwargs), "secrets": sorted(self.secrets)}
        print("predict sees", self.secrets)
        return pd.DataFrame({"Predictions": X["a"] + self.mean, "seen": json.dumps(seen)})
"""
#: The shape of DRUM's binary fixture: predict_proba's columns name the classes.
BINARY_TASK = """
import pandas as pd
from datarobot_drum.custom_task_interfaces import BinaryEstimatorInterface


class CustomTask(BinaryEstimatorInterface):
    def fit(self, X, y, **kwargs):
        self.threshold = float(X["a"].median())
        return self

    def predict_proba(self, X, **kwargs):
        yes = (X["a"] > self.threshold).astype(float) * 0.5 + 0.25
        return pd.DataFrame({"yes": yes, "no": 1 - yes})
"""
MULTICLASS_TASK = """
import pandas as pd
from datarobot_drum.custom_task_interfaces import MulticlassEstimatorInterface


class CustomTask(MulticlassEstimatorInterface):
    def fit(self, X, y, **kwargs):
        return self

    def predict_proba(self, X, **kwargs):
        return pd.DataFrame({"c": 0.5, "b": 0.3, "a": 0.2}, index=X.index)
"""
ANOMALY_TASK = """
import pandas as pd
from datarobot_drum.custom_task_interfaces import AnomalyEstimatorInterface


class CustomTask(AnomalyEstimatorInterface):
    def fit(self, X, y, **kwargs):
        return self

    def predict(self, X, **kwargs):
        return pd.DataFrame({"Predictions": X["a"].abs()})
"""
TRAINING = pd.DataFrame({"a": [1.0, None, 3.0], "b": [4.0, 5.0, None]})
SAMPLES = b"a,b\n1,\n,2\n-3,4\n"


def fitted_task_dir(tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A code dir with custom.py and the task `drum fit` would have saved."""
    code_dir = tmp_path / "task"
    code_dir.mkdir()
    (code_dir / "custom.py").write_text("import json\n" + textwrap.dedent(source))
    provide_datarobot_drum()
    # As `drum fit`: custom.py imported as `custom`, the fitted task pickled by its save().
    spec = importlib.util.spec_from_file_location("custom", code_dir / "custom.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "custom", module)
    spec.loader.exec_module(module)
    module.CustomTask().fit(TRAINING, pd.Series([1.0, 2.0, 3.0])).save(str(code_dir))
    monkeypatch.delitem(sys.modules, "custom")
    return code_dir


def _parts(response: object) -> dict[str | None, bytes]:
    parts = multipart_parts(response.content, response.headers["content-type"])  # type: ignore[attr-defined]
    return {part.name: part.content for part in parts}


def test_transform_task_answers_transform_as_drum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code_dir = fitted_task_dir(tmp_path, TRANSFORM_TASK, monkeypatch)
    with serve(code_dir, "transform") as client:
        response = client.post("/transform/", content=SAMPLES, headers={"Content-Type": "text/csv"})
        on_predict = predict(client, SAMPLES)
        info = client.get("/info/").json()

    assert response.status_code == 200
    assert _parts(response) == {
        "X.format": b"csv", "X.transformed": b"a,b\r\n2.0,9.0\r\n4.0,4.0\r\n-6.0,8.0",
    }
    assert (on_predict.status_code, on_predict.json()) == (
        422, {"message": "ERROR: This model has target type 'transform', use the /transform/ endpoint."}
    )
    assert (info["predictor"], info["targetType"]) == (None, "transform")


def test_transform_task_passes_y_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code_dir = fitted_task_dir(tmp_path, TRANSFORM_TASK, monkeypatch)
    files = {"X": ("X.csv", SAMPLES), "y": ("y.csv", b"t\n1\n2\n3\n")}
    with serve(code_dir, "transform") as client:
        response = client.post("/transform/", files=files)

    assert _parts(response)["y.transformed"] == b"t\r\n1\r\n2\r\n3"


def test_regression_task_predicts_with_drum_s_keyword_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code_dir = fitted_task_dir(tmp_path, REGRESSION_TASK, monkeypatch)
    with serve(code_dir, "regression") as client:
        response = predict(client, b"a,b\n1,2\n3,4\n")

    body = response.json()
    assert body["predictions"] == [3.0, 5.0]
    assert json.loads(body["extraModelOutput"]["data"][0][0]) == {
        "kwargs": ["binary_data", "charset", "mimetype", "sparse_colnames", "target_type"],
        "secrets": [],
    }


def test_binary_task_answers_predict_proba_in_label_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code_dir = fitted_task_dir(tmp_path, BINARY_TASK, monkeypatch)
    with serve(code_dir, "binary", *BINARY_LABELS) as client:
        response = predict(client, b"a,b\n3,1\n1,1\n")

    assert response.json() == {"predictions": [{"yes": 0.75, "no": 0.25}, {"yes": 0.25, "no": 0.75}]}


def test_multiclass_task_is_answered_in_its_columns_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code_dir = fitted_task_dir(tmp_path, MULTICLASS_TASK, monkeypatch)
    with serve(code_dir, "multiclass", "--class-labels", "a", "b", "c") as client:
        response = predict(client, b"a,b\n3,1\n")

    assert response.json() == {"predictions": [{"c": 0.5, "b": 0.3, "a": 0.2}]}


def test_anomaly_task_predicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code_dir = fitted_task_dir(tmp_path, ANOMALY_TASK, monkeypatch)
    with serve(code_dir, "anomaly") as client:
        response = predict(client, b"a,b\n-3,1\n2,1\n")

    assert response.json() == {"predictions": [3.0, 2.0]}


def test_user_secrets_reach_the_task_and_are_masked_in_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code_dir = fitted_task_dir(tmp_path, REGRESSION_TASK, monkeypatch)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "FILE_TOKEN").write_text('{"credential_type": "api_token", "api_token": "file-s3cret"}')
    monkeypatch.setenv("SEC_ENV_LOGIN", json.dumps(
        {"credential_type": "basic", "username": "ann", "password": "env-s3cret", "unknown": 1}
    ))
    argv = ("--user-secrets-mount-path", str(secrets), "--user-secrets-prefix", "SEC")
    try:
        with serve(code_dir, "regression", *argv) as client:
            response = predict(client, b"a,b\n1,2\n")
            print("the task printed file-s3cret")
    finally:
        from datarobot_drum.custom_task_interfaces.user_secrets import (
            reset_outputs_to_allow_secrets,
        )

        reset_outputs_to_allow_secrets()

    seen = json.loads(response.json()["extraModelOutput"]["data"][0][0])
    assert seen["secrets"] == ["ENV_LOGIN", "FILE_TOKEN"]
    out = capsys.readouterr().out
    assert "predict sees {'ENV_LOGIN': BasicSecret(username='*****', password='*****'" in out
    assert "the task printed *****" in out and "s3cret" not in out


@pytest.mark.parametrize(
    ("source", "artifact", "message"),
    [
        pytest.param(
            "class CustomTask:\n    pass\n", None,
            "The CustomTask class must inherit from the CustomTaskInterface",
            id="not-an-interface",
        ),
        pytest.param(
            REGRESSION_TASK + "\n    @classmethod\n    def load(cls, code_dir):\n        raise OSError('no artifact')\n",
            None,
            "An error occurred when loading your artifact: Failed to load custom task class."
            " Exception: OSError('no artifact')",
            id="load-raises",
        ),
        pytest.param(
            REGRESSION_TASK, pickle.dumps({"not": "a task"}),
            "An error occurred when loading your artifact: Failed to load custom task class."
            " Exception: DrumSerializationError('load_task method must return a CustomTask class')",
            id="artifact-of-another-class",
        ),
    ],
)
def test_a_task_that_cannot_load_stops_start_up_with_drum_s_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, artifact: bytes | None,
    message: str,
) -> None:
    code_dir = fitted_task_dir(tmp_path, REGRESSION_TASK, monkeypatch)
    (code_dir / "custom.py").write_text("import json\n" + textwrap.dedent(source))
    if artifact is not None:
        (code_dir / "drum_artifact.pkl").write_bytes(artifact)
    with serve(code_dir, "regression", "--with-error-server") as client:
        response = predict(client)

    assert (response.status_code, response.json()) == (513, {"message": f"ERROR: {message}"})


def test_a_transform_that_returns_no_data_frame_is_drum_s_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    code_dir = fitted_task_dir(tmp_path, TRANSFORM_TASK.replace("return X.fillna(self.medians) * 2", "return [1]"), monkeypatch)
    with caplog.at_level(logging.CRITICAL), serve(code_dir, "transform") as client:
        response = client.post("/transform/", content=SAMPLES, headers={"Content-Type": "text/csv"})

    assert (response.status_code, response.json()) == (500, {"message": (
        "ERROR: Model 'transform' hook failed to transform dataset. Exception: ValueError(\"transform"
        " must return a dataframe, but received <class 'list'>\")"
    )})


def test_a_prediction_that_is_no_data_frame_is_drum_s_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    code_dir = fitted_task_dir(tmp_path, ANOMALY_TASK.replace(
        'return pd.DataFrame({"Predictions": X["a"].abs()})', "return X['a'].abs().tolist()"), monkeypatch)
    with caplog.at_level(logging.CRITICAL), serve(code_dir, "anomaly") as client:
        response = predict(client)

    assert (response.status_code, response.json()) == (500, {"message": (
        "ERROR: Model 'score' hook failed to make predictions. Exception: ValueError(\"score"
        " must return a dataframe, but received <class 'list'>\")"
    )})


def test_custom_http_error_from_a_task_is_the_client_s_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code_dir = fitted_task_dir(tmp_path, ANOMALY_TASK.replace(
        'return pd.DataFrame({"Predictions": X["a"].abs()})',
        "from datarobot_drum import CustomHTTPError\n        raise CustomHTTPError('no such row', 404)",
    ), monkeypatch)
    with serve(code_dir, "anomaly") as client:
        response = predict(client)

    assert (response.status_code, response.json()) == (404, {"message": "no such row"})
    assert response.headers["x-drum-user-http-error"] == "true"
