"""``--deployment-config`` / ``DEPLOYMENT_CONFIG``: /predict/ answered in DataRobot's
prediction server shape, ``{"data": [{"prediction", "predictionValues", "rowId", ...}]}``,
compared with what real DRUM 1.18.1 answered (``data/deployment/recorded.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support.app import drum_client, server_config
from support.contract import MODELS_DIR, approx_json

from drum_bridge.config import TargetType
from drum_bridge.errors import ConfigError
from drum_bridge.model.deployment_output import (
    DeploymentTarget,
    check_deployment_target,
    encode_deployment_predictions,
    read_deployment_config,
)
from drum_bridge.model.output import Marshalled

DATA = Path(__file__).parent / "data" / "deployment"
RECORDED = json.loads((DATA / "recorded.json").read_text())
SAMPLES = b"".join((MODELS_DIR / "input.csv").read_bytes().splitlines(keepends=True)[:4])


@pytest.mark.parametrize(
    ("recording", "model", "argv", "deployment_config", "via_env"),
    [
        ("regression_pkl", "reg_pkl", ("regression",), "regression.json", False),
        ("regression_pkl", "reg_pkl", ("regression",), "regression.json", True),
        ("binary_pkl", "bin_pkl", ("binary", "--positive-class-label", "yes",
                                   "--negative-class-label", "no"), "binary.json", False),
        ("multiclass_pkl", "multi_pkl", ("multiclass", "--class-labels", "red", "green", "blue"),
         "multiclass.json", True),
        ("anomaly_custom", "anomaly_custom", ("anomaly",), "anomaly.json", False),
        ("regression_custom_extra_output", "reg_custom", ("regression",), "regression.json", False),
        ("multilabel", "multilabel", ("multilabel", "--class-labels", "cat", "dog", "fish"),
         "multilabel.json", False),
    ],
)
@pytest.mark.parametrize("endpoint", ["/predict/", "/predictions/"])
def test_predictions_in_the_pps_shape_as_drum_answers(
    recording: str, model: str, argv: tuple[str, ...], deployment_config: str, via_env: bool,
    endpoint: str,
) -> None:
    path = str(DATA / deployment_config)
    target_type, *labels = argv
    args = labels if via_env else [*labels, "--deployment-config", path]
    environ = {"DEPLOYMENT_CONFIG": path} if via_env else {}
    config = server_config(MODELS_DIR / model, target_type, *args, environ=environ)
    with drum_client(config) as client:
        raw = client.post(endpoint, content=SAMPLES, headers={"Content-Type": "text/csv"})
        multipart = client.post(endpoint, files={"X": ("X.csv", SAMPLES)})

    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    assert raw.json() == approx_json(RECORDED[recording])
    assert multipart.json() == raw.json()


def test_transform_models_answer_as_without_it() -> None:
    config = server_config(MODELS_DIR / "tr_pkl", "transform", "--deployment-config",
                           str(DATA / "regression.json"))
    with drum_client(config) as client:
        response = client.post("/transform/", files={"X": ("X.csv", SAMPLES)})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("multipart/form-data")


def _marshalled(values: list[Any], extra: pd.DataFrame | None = None) -> Marshalled:
    return Marshalled(values=np.array([[v] for v in values], dtype=object),
                      columns=["Predictions"], extra=extra)


@pytest.mark.parametrize(
    "target_type",
    [TargetType.TEXT_GENERATION, TargetType.GEO_POINT, TargetType.AGENTIC_WORKFLOW,
     TargetType.VECTOR_DATABASE],
)
def test_text_like_predictions_are_labelled_with_the_target_name(target_type: TargetType) -> None:
    values: list[Any] = ["first", ["a", "b"]]
    extra = pd.DataFrame({"n": [1, 2], "s": ["x", "y"]})
    body = encode_deployment_predictions(
        _marshalled(values, extra), DeploymentTarget(name="answer"), rows=2, target_type=target_type
    )

    assert json.loads(body) == {"data": [
        {"prediction": "first", "predictionValues": [{"label": "answer", "value": "first"}],
         "rowId": 0, "extraModelOutput": {"n": 1, "s": "x"}},
        {"prediction": ["a", "b"], "predictionValues": [{"label": "answer", "value": ["a", "b"]}],
         "rowId": 1, "extraModelOutput": {"n": 2, "s": "y"}},
    ]}


def test_binary_positive_class_is_the_mapping_s_second_and_the_threshold_is_strict() -> None:
    result = Marshalled(values=np.array([[0.5, 0.5], [0.75, 0.25]]), columns=["no", "yes"])
    target = DeploymentTarget(name="y", class_names=("yes", "no"), threshold=0.5)
    body = json.loads(encode_deployment_predictions(result, target, rows=2, target_type=TargetType.BINARY))

    assert [row["prediction"] for row in body["data"]] == ["yes", "no"]
    assert body["data"][1]["predictionValues"] == [
        {"label": "no", "value": 0.75}, {"label": "yes", "value": 0.25}
    ]


def test_multiclass_ties_go_to_the_first_class_of_the_mapping() -> None:
    result = Marshalled(values=np.array([[0.4, 0.4, 0.2]]), columns=["a", "b", "c"])
    target = DeploymentTarget(class_names=("c", "b", "a"))
    body = json.loads(encode_deployment_predictions(result, target, rows=1, target_type=TargetType.MULTICLASS))

    assert body["data"][0]["prediction"] == "b"


def test_a_row_count_mismatch_is_a_500_naming_both() -> None:
    with pytest.raises(Exception, match="returned 1 predictions for 2 input rows"):
        encode_deployment_predictions(_marshalled([1.0]), DeploymentTarget(), rows=2,
                                      target_type=TargetType.REGRESSION)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"target: ', "Failed to parse deployment config json file '{path}'"),
        ('{"targe": {}}', "'target' section not found in deployment config json file {path}"),
        ('{"target": []}', "'target' section of deployment config json file {path} must be an object"),
        ('{"target": {"class_mapping": [["a"]]}}',
         "'class_mapping' in deployment config json file {path} must be a list of [label, index] pairs"),
    ],
)
def test_an_unreadable_config_is_a_config_error_with_drum_s_text(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "pps.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_deployment_config(path)
    assert str(raised.value) == message.format(path=path)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^The file .*missing.json does not exist!$"):
        read_deployment_config(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("target", "target_type", "labels", "message"),
    [
        (DeploymentTarget(threshold=0.5), TargetType.BINARY, ("yes", "no"),
         "A binary model's deployment config needs a 'class_mapping' in its 'target' section"),
        (DeploymentTarget(class_names=("a", "b"), threshold=0.5), TargetType.BINARY, ("yes", "no"),
         "The deployment config's class_mapping labels ['a', 'b'] are not the model's class labels ['yes', 'no']"),
        (DeploymentTarget(class_names=("yes", "no")), TargetType.BINARY, ("yes", "no"),
         "A binary model's deployment config needs a numeric 'prediction_threshold' in its 'target' section"),
    ],
)
def test_a_config_that_cannot_answer_for_the_model_is_refused(
    target: DeploymentTarget, target_type: TargetType, labels: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_deployment_target(target, target_type, labels)
    assert str(raised.value) == message


def test_the_class_mapping_may_name_labels_as_numbers() -> None:
    check_deployment_target(
        DeploymentTarget(class_names=(0, 1), threshold=0.5), TargetType.BINARY, ("1", "0")
    )
