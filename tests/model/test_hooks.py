"""custom.py hooks, called as DRUM calls them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.app import predict
from support.model_dirs import SAMPLES_CSV, fitted_regressor, write_custom_py, write_pickle
from support.scoring import (
    BINARY_LABELS,
    KWARGS_ECHO,
    MULTICLASS_LABELS,
    NO_MODEL,
    STRUCTURED_KWARGS,
    extra_output,
    serve,
)


def test_init_runs_once_with_the_code_dir_as_keyword(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
INIT_CALLS = []


def init(*args, **kwargs):
    INIT_CALLS.append([args, kwargs])


def score(data, model, **kwargs):
    calls = json.dumps(INIT_CALLS)
    return pd.DataFrame({"Predictions": 0.0, "init_calls": calls}, index=data.index)
""")
    with serve(code_dir) as client:
        predict(client)
        response = predict(client)

    assert extra_output(response)[0] == {
        "init_calls": json.dumps([[[], {"code_dir": str(code_dir.resolve())}]])
    }


def test_load_model_result_is_the_model_score_gets(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", """\
import pandas as pd


def load_model(code_dir, /):
    return {"weight": 10.0, "code_dir": code_dir}


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": data.a * model["weight"], "code_dir": model["code_dir"]})
""")
    with serve(code_dir) as client:
        response = predict(client)

    assert response.json()["predictions"] == [10.0, 30.0]
    assert extra_output(response)[0] == {"code_dir": str(code_dir.resolve())}


def test_read_input_data_reads_a_json_body(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
def read_input_data(binary_data, /):
    return pd.DataFrame(json.loads(binary_data))


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": data.a + data.b})
""")
    with serve(code_dir) as client:
        response = client.post("/predict/", json=[{"a": 1, "b": 2}, {"a": 3, "b": 4}])

    assert (response.status_code, response.json()) == (200, {"predictions": [3.0, 7.0]})


def test_read_input_data_may_return_any_object_score_understands(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
def read_input_data(binary_data, /):
    return json.loads(binary_data)


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": [sum(row) for row in data["instances"]]})
""")
    with serve(code_dir) as client:
        response = client.post("/predict/", json={"instances": [[1, 2], [3, 4], [5, 6]]})

    assert (response.status_code, response.json()) == (200, {"predictions": [3.0, 7.0, 11.0]})


def test_transform_hook_prepares_the_data_score_gets(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
def transform(data, model, /):
    return data * 10


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": data.a})
""")
    with serve(code_dir) as client:
        assert predict(client).json() == {"predictions": [10.0, 30.0]}


@pytest.mark.parametrize(
    ("post_process", "status", "body"),
    [
        pytest.param(
            "predictions + 1.0", 200, {"predictions": [2.0, 4.0]}, id="changes-predictions"
        ),
        pytest.param(
            "predictions.Predictions.tolist()",
            500,
            {
                "message": "ERROR: Output of post_process hook must be a dataframe,"
                " not a <class 'list'>"
            },
            id="not-a-dataframe",
        ),
    ],
)
def test_post_process_hook_output_is_the_answer(
    tmp_path: Path, post_process: str, status: int, body: dict[str, Any]
) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + f"""
def score(data, model, **kwargs):
    return pd.DataFrame({{"Predictions": data.a}})


def post_process(predictions, model, /):
    return {post_process}
""")
    with serve(code_dir) as client:
        response = predict(client)

    assert (response.status_code, response.json()) == (status, body)


def test_post_process_sees_predictions_without_extra_columns(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": data.a, "note": "raw"})


def post_process(predictions, model, /):
    return predictions + 1.0
""")
    with serve(code_dir) as client:
        response = predict(client)

    assert (response.status_code, response.json()) == (200, {
        "predictions": [2.0, 4.0],
        "extraModelOutput": {"columns": ["note"], "index": [0, 1], "data": [["raw"], ["raw"]]},
    })


@pytest.mark.parametrize(
    ("target_type", "label_args", "labels", "label_kwargs"),
    [
        pytest.param("regression", (), [], [], id="regression"),
        pytest.param(
            "binary", BINARY_LABELS, ["yes", "no"],
            ["negative_class_label", "positive_class_label"], id="binary",
        ),
        pytest.param(
            "multiclass", MULTICLASS_LABELS, ["a", "b", "c"], ["class_labels"], id="multiclass"
        ),
    ],
)
def test_score_gets_drums_keyword_arguments(
    tmp_path: Path,
    target_type: str,
    label_args: tuple[str, ...],
    labels: list[str],
    label_kwargs: list[str],
) -> None:
    code_dir = write_custom_py(tmp_path / "model", KWARGS_ECHO)
    with serve(code_dir, target_type, *label_args) as client:
        response = predict(client)

    assert response.status_code == 200
    assert json.loads(extra_output(response)[0]["kwargs"]) == {
        "names": sorted(STRUCTURED_KWARGS + label_kwargs),
        "target_type": target_type,
        "mimetype": "text/csv",
        "binary_data": SAMPLES_CSV.decode(),
        "labels": labels,
    }


@pytest.mark.parametrize(
    ("request_kwargs", "mimetype"),
    [
        pytest.param({"files": {"X": ("X.csv", SAMPLES_CSV)}}, None, id="csv-upload"),
        pytest.param({"content": SAMPLES_CSV}, "", id="raw-body-without-content-type"),
    ],
)
def test_score_gets_drums_mimetype(
    tmp_path: Path, request_kwargs: dict[str, Any], mimetype: str | None
) -> None:
    code_dir = write_custom_py(tmp_path / "model", KWARGS_ECHO)
    with serve(code_dir) as client:
        response = client.post("/predict/", **request_kwargs)

    assert json.loads(extra_output(response)[0]["kwargs"])["mimetype"] == mimetype


@pytest.mark.parametrize(
    ("custom_py", "predictor"),
    [
        pytest.param(None, "scikit-learn", id="bare-pickle"),
        pytest.param(KWARGS_ECHO, None, id="score-hook-beside-pickle"),
    ],
)
def test_info_names_the_artifact_predictor_unless_score_hook_scores(
    tmp_path: Path, custom_py: str | None, predictor: str | None
) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    if custom_py is not None:
        write_custom_py(code_dir, custom_py)
    with serve(code_dir) as client:
        assert client.get("/info/").json()["predictor"] == predictor


INIT_FAILS = """\
def init(code_dir):
    raise ValueError("boom")
"""
LOAD_MODEL_FAILS = """\
def load_model(code_dir):
    raise ValueError("boom")
"""


@pytest.mark.parametrize(
    ("custom_py", "message"),
    [
        pytest.param(
            LOAD_MODEL_FAILS,
            "An error occurred when loading your artifact: 'load_model' hook failed to load the"
            " model. Exception: ValueError('boom')",
            id="load-model-raises",
        ),
        pytest.param(
            INIT_FAILS,
            "boom",
            id="init-raises",
        ),
        pytest.param(
            "import missing_dependency\n",
            "\n\nRunning environment language: Python.\nFailed loading hooks from"
            " [{code_dir}/custom.py] : No module named 'missing_dependency'",
            id="import-fails",
        ),
    ],
)
def test_custom_py_failing_at_start_up_is_what_the_error_server_answers(
    tmp_path: Path, custom_py: str, message: str
) -> None:
    code_dir = write_custom_py(tmp_path / "model", custom_py)
    with serve(code_dir, "regression", "--with-error-server") as client:
        response = client.get("/ping/")

    assert (response.status_code, response.json()) == (513, {
        "message": "ERROR: " + message.format(code_dir=code_dir.resolve())
    })


def test_custom_py_in_a_subdirectory_is_used(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    write_custom_py(code_dir / "src", NO_MODEL + """
def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": [42.0] * len(data)})
""")
    with serve(code_dir) as client:
        assert predict(client).json() == {"predictions": [42.0, 42.0]}
