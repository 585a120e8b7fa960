"""The samples /predict/ reads: Matrix Market, charsets, missing samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.model_dirs import SAMPLES_CSV, fitted_regressor, write_custom_py, write_pickle
from support.scoring import (
    NO_MODEL,
    SAMPLES,
    extra_output,
    matrix_market,
    serve,
)


@pytest.mark.parametrize(
    ("feature_names", "request_kwargs"),
    [
        pytest.param(
            False,
            {"content": matrix_market(SAMPLES), "headers": {"Content-Type": "text/mtx"}},
            id="raw-body-without-colnames",
        ),
        pytest.param(
            True,
            {"files": {"X": ("X.mtx", matrix_market(SAMPLES)), "X.colnames": ("cols", b"a\nb\n")}},
            id="multipart-with-colnames",
        ),
    ],
)
def test_matrix_market_samples_are_scored(
    tmp_path: Path, feature_names: bool, request_kwargs: dict[str, Any]
) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor(feature_names=feature_names))
    with serve(code_dir) as client:
        response = client.post("/predict/", **request_kwargs)

    assert response.json() == {"predictions": pytest.approx([5.0, 11.0])}


def test_colnames_not_matching_the_matrix_are_unprocessable(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    files = {"X": ("X.mtx", matrix_market(SAMPLES)), "X.colnames": ("cols", b"a\nb\nc\n")}
    with serve(code_dir) as client:
        response = client.post("/predict/", files=files)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "message": "ERROR: X.colnames names 3 columns but the sparse matrix has 2"
    }


def test_csv_charset_is_honoured(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": 0.0, "name": data.name})
""")
    with serve(code_dir) as client:
        response = client.post(
            "/predict/",
            content="name\nJosé\nGrüße\n".encode("latin-1"),
            headers={"Content-Type": "text/csv; charset=latin-1"},
        )

    assert extra_output(response) == [{"name": "José"}, {"name": "Grüße"}]


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({"content": b"", "headers": {"Content-Type": "text/csv"}}, id="empty-body"),
        pytest.param({"files": {"samples": ("X.csv", SAMPLES_CSV)}}, id="form-without-X"),
    ],
)
def test_missing_samples_are_unprocessable(tmp_path: Path, request_kwargs: dict[str, Any]) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    with serve(code_dir) as client:
        response = client.post("/predict/", **request_kwargs)

    assert (response.status_code, response.json()) == (422, {
        "message": "ERROR: Samples should be provided as:   - a csv or mtx under `X` form-data"
        " param key.  - binary data"
    })
