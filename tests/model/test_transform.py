"""/transform/ with a custom transform hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.contract import multipart_parts
from support.model_dirs import SAMPLES_CSV, write_custom_py
from support.scoring import (
    NO_MODEL,
    serve,
)


def transform_dir(tmp_path: Path, transform: str) -> Path:
    """A transform model whose hook is ``transform``: source text of a def."""
    return write_custom_py(tmp_path / "model", NO_MODEL + transform)


def test_transform_hook_with_three_parameters_gets_y(tmp_path: Path) -> None:
    code_dir = transform_dir(tmp_path, """
def transform(data, model, y):
    return data.assign(a=data.a * y.target)
""")
    files = {"X": ("X.csv", SAMPLES_CSV), "y": ("y.csv", b"target\n10\n100\n")}
    with serve(code_dir, "transform") as client:
        response = client.post("/transform/", files=files)

    assert response.status_code == 200
    parts = multipart_parts(response.content, response.headers["content-type"])
    assert {part.name: part.content for part in parts} == {
        "X.format": b"csv",
        "X.transformed": b"a,b\r\n10,2\r\n300,4",
        "y.format": b"csv",
        "y.transformed": b"target\r\n10\r\n100",
    }


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        pytest.param(
            "return data, data.a",
            "Transformation of the target variable is not supported by DRUM.",
            id="tuple",
        ),
        pytest.param(
            "return data.head(1)",
            "Transformation resulted in different number of rows than original data",
            id="rows-lost",
        ),
    ],
)
def test_transform_output_drum_refuses(tmp_path: Path, transform: str, message: str) -> None:
    code_dir = transform_dir(tmp_path, f"""
def transform(data, model):
    {transform}
""")
    with serve(code_dir, "transform") as client:
        response = client.post("/transform/", files={"X": ("X.csv", SAMPLES_CSV)})

    assert response.status_code == 500
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("transform", "exception"),
    [
        pytest.param(
            "return data, data.a",
            "DrumTransformException('Transformation of the target variable is not supported"
            " by DRUM.')",
            id="tuple",
        ),
        pytest.param('raise ValueError("boom")', "ValueError('boom')", id="hook-raises"),
    ],
)
def test_transform_hook_failure_uses_drums_wording(
    tmp_path: Path, transform: str, exception: str
) -> None:
    code_dir = transform_dir(tmp_path, f"""
def transform(data, model):
    {transform}
""")
    with serve(code_dir, "transform") as client:
        response = client.post("/transform/", files={"X": ("X.csv", SAMPLES_CSV)})

    assert (response.status_code, response.json()) == (500, {
        "message": "ERROR: Model 'transform hook' failed to transform dataset."
        f" Exception: {exception}"
    })
