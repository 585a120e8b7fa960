"""Every DRUM target type served: /info/ and /capabilities/ for each, and what /predict/
makes of score() output for multilabel, text generation, vector database, agentic
workflow and geopoint models beyond the recorded cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.app import drum_client, predict, server_config
from support.model_dirs import fitted_regressor, write_custom_py, write_pickle
from support.scoring import NO_MODEL, extra_output

#: A model every target type can load; ``score`` answers what ``SCORE`` says.
ANY_TARGET = NO_MODEL + """
def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": [0.5] * len(data)})


def score_unstructured(model, data, query, **kwargs):
    return "unstructured"


def transform(data, model):
    return data
"""
TEXT_ENV = {"TARGET_NAME": "Predictions"}
LABEL_FIELDS = ("positiveClassLabel", "negativeClassLabel", "classLabels")


@pytest.mark.parametrize(
    ("target_type", "args", "environ", "labels"),
    [
        pytest.param("regression", (), {}, {}, id="regression"),
        pytest.param("anomaly", (), {}, {}, id="anomaly"),
        pytest.param("transform", (), {}, {}, id="transform"),
        pytest.param("binary", ("--positive-class-label", "yes", "--negative-class-label", "no"),
                     {}, {"positiveClassLabel": "yes", "negativeClassLabel": "no"}, id="binary"),
        pytest.param("multiclass", ("--class-labels", "a", "b", "c"), {},
                     {"classLabels": ["a", "b", "c"]}, id="multiclass"),
        # DRUM's /info/ lists the labels of binary and multiclass models only.
        pytest.param("multilabel", ("--class-labels", "a", "b"), {}, {}, id="multilabel"),
        pytest.param("unstructured", (), {}, {}, id="unstructured"),
        pytest.param("textgeneration", (), TEXT_ENV, {}, id="textgeneration"),
        pytest.param("vectordatabase", (), TEXT_ENV, {}, id="vectordatabase"),
        pytest.param("agenticworkflow", (), TEXT_ENV, {}, id="agenticworkflow"),
        pytest.param("geopoint", (), {}, {}, id="geopoint"),
    ],
)
def test_info_and_capabilities_of_every_target_type(
    tmp_path: Path, target_type: str, args: tuple[str, ...], environ: dict[str, str],
    labels: dict[str, Any],
) -> None:
    code_dir = write_custom_py(tmp_path / "model", ANY_TARGET)
    with drum_client(server_config(code_dir, target_type, *args, environ=environ)) as client:
        info = client.get("/info/").json()
        capabilities = client.get("/capabilities/").json()

    assert (info["targetType"], info["codeDir"], info["predictor"]) == (
        target_type, str(code_dir), None
    )
    assert {key: info[key] for key in LABEL_FIELDS if key in info} == labels
    assert capabilities == {
        "supported_methods": {"chat": False},
        "supported_payload_formats": {"csv": None, "mtx": None},
    }


def serve_score(tmp_path: Path, target_type: str, returns: str, *args: str,
                environ: dict[str, str] | None = None) -> Any:
    """/predict/ of a model whose score() returns the expression ``returns``."""
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + f"""
def score(data, model, **kwargs):
    return {returns}
""")
    with drum_client(server_config(code_dir, target_type, *args, environ=environ)) as client:
        return predict(client)


MULTILABEL = ("--class-labels", "cat", "dog", "fish")


def test_multilabel_probabilities_are_independent(tmp_path: Path) -> None:
    response = serve_score(
        tmp_path, "multilabel",
        'pd.DataFrame({"dog": [0.9, 0.0], "cat": [0.8, 0.1], "fish": [0.7, 0.0],'
        ' "why": ["a", "b"]})',
        *MULTILABEL,
    )

    assert response.status_code == 200
    body = response.json()
    # Rows need not sum to 1; columns keep the model's order; extra columns go apart.
    assert body["predictions"] == [
        {"dog": 0.9, "cat": 0.8, "fish": 0.7}, {"dog": 0.0, "cat": 0.1, "fish": 0.0}
    ]
    assert extra_output(response) == [{"why": "a"}, {"why": "b"}]


@pytest.mark.parametrize(
    ("returns", "message"),
    [
        pytest.param('pd.DataFrame({"cat": [1.5] * 2, "dog": [0.1] * 2, "fish": [0.1] * 2})',
                     "ERROR: Your prediction probabilities have values greater than 1",
                     id="above-1"),
        pytest.param('pd.DataFrame({"cat": [-0.5] * 2, "dog": [0.1] * 2, "fish": [0.1] * 2})',
                     "ERROR: Your prediction probabilities have negative values", id="negative"),
        pytest.param('pd.DataFrame({"cat": [0.5] * 2, "dog": [0.1] * 2, "cow": [0.1] * 2})',
                     "ERROR: Expected predictions to have columns ['cat', 'dog', 'fish'],"
                     " but encountered ['cat', 'dog', 'cow']", id="wrong-labels"),
    ],
)
def test_multilabel_output_is_checked_as_drum_does(
    tmp_path: Path, returns: str, message: str
) -> None:
    response = serve_score(tmp_path, "multilabel", returns, *MULTILABEL)

    assert (response.status_code, response.json()) == (500, {"message": message})


@pytest.mark.parametrize("target_type", ["textgeneration", "vectordatabase", "agenticworkflow"])
def test_target_name_picks_the_prediction_column(tmp_path: Path, target_type: str) -> None:
    response = serve_score(
        tmp_path, target_type,
        'pd.DataFrame({"citations": ["doc-1", "doc-2"], "answer": ["first", "second"]})',
        environ={"TARGET_NAME": "answer"},
    )

    assert response.status_code == 200
    assert response.json()["predictions"] == ["first", "second"]
    assert extra_output(response) == [{"citations": "doc-1"}, {"citations": "doc-2"}]


def test_quoted_target_name_is_accepted_as_in_drum(tmp_path: Path) -> None:
    response = serve_score(
        tmp_path, "textgeneration",
        'pd.DataFrame({"answer": ["a", "b"], "tokens": [1, 2]})',
        environ={"TARGET_NAME": '"answer"'},
    )

    assert response.json()["predictions"] == ["a", "b"]


def test_text_predictions_need_the_target_column(tmp_path: Path) -> None:
    response = serve_score(
        tmp_path, "textgeneration", 'pd.DataFrame({"a": ["x", "y"], "b": ["x", "y"]})',
        environ={"TARGET_NAME": "answer"},
    )

    assert (response.status_code, response.json()) == (500, {
        "message": "ERROR: Regression, Text Generation, Agentic Workflow and anomaly predictions"
        " must contain only 1 column. Your predictions have 2 columns"
    })


def test_geopoint_predictions_are_sent_as_returned(tmp_path: Path) -> None:
    response = serve_score(
        tmp_path, "geopoint", 'pd.DataFrame({"Predictions": ["POINT(1 2)", "POINT(3 4)"]})'
    )

    assert (response.status_code, response.json()) == (
        200, {"predictions": ["POINT(1 2)", "POINT(3 4)"]}
    )


def test_transform_route_of_a_text_model_points_to_predict(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", ANY_TARGET)
    config = server_config(code_dir, "agenticworkflow", environ=TEXT_ENV)
    with drum_client(config) as client:
        response = client.post("/transform/", content=b"a\n1\n", headers={"Content-Type": "text/csv"})

    assert (response.status_code, response.json()) == (422, {
        "message": "ERROR: This model has target type TargetType.AGENTIC_WORKFLOW,"
        " use the /predict/ endpoint."
    })


def test_predict_on_a_chat_only_model_says_so(tmp_path: Path) -> None:
    # DRUM: 500 "Failure when making predictions. Exception: AttributeError(\"'NoneType'
    # object has no attribute 'predict'\")".
    code_dir = write_custom_py(tmp_path / "model", """
        def load_model(code_dir):
            return "llm"

        def chat(completion_create_params, model, **kwargs):
            raise NotImplementedError
    """)
    config = server_config(code_dir, "textgeneration", environ={"TARGET_NAME": "answer"})
    with drum_client(config) as client:
        response = client.post("/predict/", content=b"prompt\nhi\n",
                               headers={"Content-Type": "text/csv"})

    assert (response.status_code, response.json()) == (422, {
        "message": "ERROR: This model's custom.py defines chat but no score hook, and it has no"
        " artifact to score with: it answers /chat/completions only."
    })


@pytest.mark.parametrize(
    ("target_type", "custom_py"),
    [
        pytest.param("unstructured", "def score_unstructured(model, data, query, **kwargs):\n"
                     "    return str(model.coef_.round(3).tolist())\n", id="unstructured"),
        pytest.param("transform", None, id="transform"),
        pytest.param("textgeneration", "def chat(completion_create_params, model, **kwargs):\n"
                     "    raise NotImplementedError\n", id="chat-hook"),
    ],
)
def test_info_names_no_predictor_where_drum_looks_for_none(
    tmp_path: Path, target_type: str, custom_py: str | None
) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    if custom_py is not None:
        write_custom_py(code_dir, custom_py)
    config = server_config(code_dir, target_type, environ=TEXT_ENV)
    with drum_client(config) as client:
        assert client.get("/info/").json()["predictor"] is None
        if target_type == "unstructured":  # the artifact is still the model
            assert client.post("/predictUnstructured/", content=b"x").text == "[1.0, 2.0]"
