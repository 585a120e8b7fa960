"""/predict/ behaviour DRUM has that the recorded contract does not cover: failing model
code, invalid score() output and unreadable samples, each answered without taking the
server down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.app import drum_client, predict, server_config
from support.model_dirs import fitted_regressor, write_custom_py, write_pickle

BINARY_LABELS = ("--positive-class-label", "yes", "--negative-class-label", "no")
SCORE_HOOK = """\
import pandas as pd

from drum_bridge.errors import CustomHTTPError


def load_model(code_dir):
    return "score() needs no model"


def score(data, model, **kwargs):
    {body}
"""


def assert_still_serving(client: TestClient) -> None:
    assert client.get("/ping/").json() == {"message": "OK"}


@pytest.fixture
def score_client(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A client of a model whose score() runs ``body``; ``request.param`` is
    ``(target type, body)``."""
    target_type, body = request.param
    code_dir = write_custom_py(tmp_path / "model", SCORE_HOOK.format(body=body))
    labels = BINARY_LABELS if target_type == "binary" else ()
    with drum_client(server_config(code_dir, target_type, *labels)) as client:
        yield client


@pytest.mark.parametrize(
    ("score_client", "status", "message", "user_error_header"),
    [
        pytest.param(
            ("regression", 'raise CustomHTTPError("Teapot says no", status_code=418)'),
            418, "Teapot says no", "true", id="custom-http-error",
        ),
        pytest.param(
            ("regression", 'raise ValueError("boom")'),
            500, "ERROR: Model 'score' hook failed to make predictions. Exception: ValueError('boom')",
            None, id="hook-raises",
        ),
        pytest.param(
            ("regression", "return [1.0] * len(data)"),
            500, "ERROR: score must return a dataframe, but received <class 'list'>",
            None, id="not-a-dataframe",
        ),
        pytest.param(
            ("binary", 'return pd.DataFrame({"yes": [1.2] * len(data), "no": [0.1] * len(data)})'),
            500, "ERROR: Your prediction probabilities have values greater than 1",
            None, id="probability-above-1",
        ),
        pytest.param(
            ("binary", 'return pd.DataFrame({"yes": [-0.1] * len(data), "no": [0.6] * len(data)})'),
            500, "ERROR: Your prediction probabilities have negative values",
            None, id="negative-probability",
        ),
    ],
    indirect=["score_client"],
)
def test_score_failure_answers_drums_error(
    score_client: TestClient, status: int, message: str, user_error_header: str | None
) -> None:
    response = predict(score_client)

    assert (response.status_code, response.json()) == (status, {"message": message})
    assert response.headers.get("x-drum-user-http-error") == user_error_header
    assert_still_serving(score_client)


@pytest.mark.parametrize(
    "score_client",
    [("binary", 'return pd.DataFrame({"yes": [0.7] * len(data), "no": [0.7] * len(data)})')],
    indirect=True,
)
def test_probabilities_not_summing_to_one_are_refused(score_client: TestClient) -> None:
    response = predict(score_client)

    assert response.status_code == 500
    assert response.json()["message"].startswith(
        "ERROR: Your prediction probabilities do not add up to 1."
    )
    assert_still_serving(score_client)


@pytest.fixture
def sklearn_client(tmp_path: Path) -> Iterator[TestClient]:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    with drum_client(server_config(code_dir, "regression")) as client:
        yield client


@pytest.mark.parametrize(
    ("csv", "message_start"),
    [
        pytest.param(
            b"a,b\n1,2\n3,4,5,6\n", "ERROR: Pandas failed to read input binary data", id="ragged"
        ),
        pytest.param(
            b"a,b\n\xff\xfe,1\n", "ERROR: Supplied CSV input file encoding must be UTF-8",
            id="not-utf8",
        ),
    ],
)
def test_unreadable_csv_is_unprocessable(
    sklearn_client: TestClient, csv: bytes, message_start: str
) -> None:
    # DRUM answers 500 here; drum-bridge answers 422: the client sent bad input.
    response = predict(sklearn_client, csv)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["message"].startswith(message_start)
    assert predict(sklearn_client).json() == {"predictions": pytest.approx([5.0, 11.0])}
