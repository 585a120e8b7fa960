"""What /predict/ makes of score() output: DRUM's checks, labels, extra output, floats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from support.app import predict
from support.model_dirs import write_custom_py, write_pickle
from support.scoring import (
    BINARY_LABELS,
    MULTICLASS_LABELS,
    NO_MODEL,
    SAMPLES,
    serve,
)


@pytest.mark.parametrize(
    ("classes", "labels"),
    [
        pytest.param(["no", "yes"], ["no", "yes"], id="same-spelling"),
        pytest.param([0, 1], ["0", "1"], id="numbers-as-strings"),
        pytest.param(["No", "Yes"], ["no", "yes"], id="case-insensitive"),
    ],
)
def test_binary_sklearn_pickle_answers_both_label_probabilities(
    tmp_path: Path, classes: list[Any], labels: list[str]
) -> None:
    """``labels`` are the configured spellings of ``classes``, in the same order."""
    model = LogisticRegression().fit(SAMPLES, classes)
    code_dir = write_pickle(tmp_path / "model", model)
    negative, positive = labels
    args = ("--positive-class-label", positive, "--negative-class-label", negative)
    with serve(code_dir, "binary", *args) as client:
        rows = predict(client).json()["predictions"]

    expected = [dict(zip(labels, probs, strict=True)) for probs in model.predict_proba(SAMPLES)]
    assert rows == [pytest.approx(row) for row in expected]
    assert [list(row) for row in rows] == [labels, labels]
    assert [sum(row.values()) for row in rows] == pytest.approx([1.0, 1.0])


def test_multiclass_extra_columns_become_extra_model_output(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
def score(data, model, **kwargs):
    return pd.DataFrame({"a": 0.5, "b": 0.25, "c": 0.25, "explanation": ["first", "second"]})
""")
    with serve(code_dir, "multiclass", *MULTICLASS_LABELS) as client:
        body = predict(client).json()

    assert body == {
        "predictions": [{"a": 0.5, "b": 0.25, "c": 0.25}] * 2,
        "extraModelOutput": {
            "columns": ["explanation"], "index": [0, 1], "data": [["first"], ["second"]]
        },
    }


@pytest.mark.parametrize("answered", [1, 3])
def test_prediction_count_must_match_the_rows(tmp_path: Path, answered: int) -> None:
    # drum-bridge's own check (README, "Differences from DRUM").
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + f"""
def score(data, model, **kwargs):
    return pd.DataFrame({{"Predictions": [1.0] * {answered}}})
""")
    with serve(code_dir) as client:
        response = predict(client)

    assert (response.status_code, response.json()) == (500, {
        "message": f"ERROR: The model returned {answered} predictions for 2 input rows;"
        " they must match"
    })


@pytest.mark.parametrize(
    ("target_type", "label_args", "columns", "expected"),
    [
        pytest.param(
            "regression", (), {"Predictions": [0.12345678901234, 1.2e-12]},
            [0.123456789, 0.0], id="regression",
        ),
        pytest.param(
            "binary", BINARY_LABELS, {"yes": [0.12345678901234] * 2, "no": [0.87654321098766] * 2},
            [{"yes": 0.123456789, "no": 0.876543211}] * 2, id="binary",
        ),
    ],
)
def test_floats_are_rounded_to_10_decimal_places(
    tmp_path: Path,
    target_type: str,
    label_args: tuple[str, ...],
    columns: dict[str, list[float]],
    expected: list[Any],
) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + f"""
def score(data, model, **kwargs):
    return pd.DataFrame({columns!r})
""")
    with serve(code_dir, target_type, *label_args) as client:
        assert predict(client).json() == {"predictions": expected}


def test_anomaly_isolation_forest_answers_one_score_per_row(tmp_path: Path) -> None:
    model = IsolationForest(random_state=0).fit(SAMPLES)
    code_dir = write_pickle(tmp_path / "model", model)
    with serve(code_dir, "anomaly") as client:
        predictions = predict(client).json()["predictions"]

    assert predictions == model.predict(SAMPLES).astype(float).tolist()
    assert all(isinstance(value, float) for value in predictions)
