"""Gathering a ``Config`` from what a user sets: DRUM's environment variables, runtime
parameters (the server type), ``model-metadata.yaml``, and the validation of the result."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
from support.app import ADDRESS, gather, parse_server_args

from drum_bridge import Config, ConfigError, ServerType, TargetType
from drum_bridge.config.sources import config_from_args


@pytest.mark.parametrize(
    ("environ", "server_type"),
    [
        pytest.param({}, ServerType.FASTAPI, id="default"),
        pytest.param({"MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": '{"type": "string", "payload": "flask"}'},
                     ServerType.FLASK, id="runtime-param-json"),
        pytest.param({"MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": "werkzeug"},
                     ServerType.WERKZEUG, id="runtime-param-plain"),
        pytest.param({"DRUM_SERVER_TYPE": "Gunicorn"}, ServerType.GUNICORN, id="env"),
        pytest.param({"DRUM_SERVER_TYPE": "fastapi",
                      "MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": '{"type": "string", "payload": "fastapi"}'},
                     ServerType.FASTAPI, id="both-agree"),
    ],
)
def test_server_type(code_dir: Path, environ: dict[str, str], server_type: ServerType) -> None:
    assert gather(code_dir, "--target-type", "regression", environ=environ).server_type is server_type


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"DRUM_SERVER_TYPE": "tornado"}, "'tornado'", id="unknown-plain"),
        pytest.param({"MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": '{"type": "string", "payload": "tornado"}'},
                     "'tornado'", id="unknown-json"),
        pytest.param({"MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": '{"type": "string"'},
                     "MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE", id="broken-json"),
        pytest.param({"DRUM_SERVER_TYPE": "flask", "MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE": "fastapi"},
                     "disagrees", id="disagree"),
    ],
)
def test_bad_server_type_is_an_error(code_dir: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        gather(code_dir, "--target-type", "regression", environ=environ)


# --- environment variables ------------------------------------------------------------


@pytest.fixture
def drum_env(code_dir: Path) -> dict[str, str]:
    """The least a ``drum server`` started from the environment alone needs."""
    (code_dir / "labels.txt").write_text("cat\ndog\n")
    return {"CODE_DIR": str(code_dir), "ADDRESS": ADDRESS, "TARGET_TYPE": "regression"}


def test_code_dir_address_and_target_type_from_env(drum_env: dict[str, str], code_dir: Path) -> None:
    config = config_from_args(parse_server_args(), environ=drum_env)

    assert (config.code_dir, config.host, config.port, config.target_type) == (
        code_dir.resolve(), "127.0.0.1", 8080, TargetType.REGRESSION,
    )


@pytest.mark.parametrize(
    ("environ", "read", "expected"),
    [
        pytest.param({"TARGET_TYPE": "anomaly"}, attrgetter("target_type"), TargetType.ANOMALY,
                     id="TARGET_TYPE"),
        pytest.param({"ADDRESS": "0.0.0.0:9000"}, attrgetter("host", "port"), ("0.0.0.0", 9000),
                     id="ADDRESS"),
        pytest.param({"TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "yes",
                      "NEGATIVE_CLASS_LABEL": "no"},
                     attrgetter("positive_class_label", "negative_class_label"), ("yes", "no"),
                     id="POSITIVE/NEGATIVE_CLASS_LABEL"),
        pytest.param({"TARGET_TYPE": "multiclass", "CLASS_LABELS": "red green  blue"},
                     attrgetter("class_labels"), ("red", "green", "blue"), id="CLASS_LABELS"),
        pytest.param({"TARGET_TYPE": "multiclass", "CLASS_LABELS_FILE": "{code_dir}/labels.txt"},
                     attrgetter("class_labels"), ("cat", "dog"), id="CLASS_LABELS_FILE"),
        pytest.param({"MAX_WORKERS": "3"}, attrgetter("max_workers"), 3, id="MAX_WORKERS"),
        pytest.param({"URL_PREFIX": "/model/v1"}, attrgetter("url_prefix"), "/model/v1",
                     id="URL_PREFIX"),
        pytest.param({"WITH_ERROR_SERVER": "true"}, attrgetter("with_error_server"), True,
                     id="WITH_ERROR_SERVER"),
        pytest.param({"WITH_ERROR_SERVER": "off"}, attrgetter("with_error_server"), False,
                     id="WITH_ERROR_SERVER-off"),
        pytest.param({"SHOW_STACKTRACE": "1"}, attrgetter("show_stacktrace"), True,
                     id="SHOW_STACKTRACE"),
        pytest.param({"DRUM_BRIDGE_MAX_BODY_SIZE": "1048576"}, attrgetter("max_body_size"), 1048576,
                     id="DRUM_BRIDGE_MAX_BODY_SIZE"),
    ],
)
def test_env_var_reaches_config(
    drum_env: dict[str, str],
    code_dir: Path,
    environ: dict[str, str],
    read: Callable[[Config], Any],
    expected: Any,
) -> None:
    environ = {name: value.format(code_dir=code_dir) for name, value in environ.items()}

    config = config_from_args(parse_server_args(), environ={**drum_env, **environ})

    assert read(config) == expected


@pytest.mark.parametrize(
    ("argv", "environ", "names"),
    [
        pytest.param(("--target-type", "regression"), {"TARGET_TYPE": "binary"},
                     ("--target-type", "TARGET_TYPE"), id="target-type"),
        pytest.param(("--max-workers", "2"), {"MAX_WORKERS": "3"},
                     ("--max-workers", "MAX_WORKERS"), id="max-workers"),
        pytest.param(("--address", "0.0.0.0:9000"), {"ADDRESS": "0.0.0.0:9001"},
                     ("--address", "ADDRESS"), id="address"),
        pytest.param(("--target-type", "multiclass", "--class-labels", "a", "b"),
                     {"TARGET_TYPE": "multiclass", "CLASS_LABELS": "a c"},
                     ("--class-labels", "CLASS_LABELS"), id="class-labels"),
        pytest.param(("--with-error-server",), {"WITH_ERROR_SERVER": "false"},
                     ("--with-error-server", "WITH_ERROR_SERVER"), id="with-error-server"),
    ],
)
def test_flag_and_env_var_that_disagree_are_an_error(
    drum_env: dict[str, str], argv: tuple[str, ...], environ: dict[str, str], names: tuple[str, str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_args(parse_server_args(*argv), environ={**drum_env, **environ})

    assert all(name in str(raised.value) for name in names), str(raised.value)


def test_flag_and_env_var_that_agree_are_fine(drum_env: dict[str, str]) -> None:
    args = parse_server_args("--target-type", "regression", "--max-workers", "2")

    config = config_from_args(args, environ={**drum_env, "MAX_WORKERS": "2"})

    assert (config.target_type, config.max_workers) == (TargetType.REGRESSION, 2)


def test_env_bool_that_is_not_a_bool_is_an_error(drum_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="WITH_ERROR_SERVER"):
        config_from_args(parse_server_args(), environ={**drum_env, "WITH_ERROR_SERVER": "2"})


# --- model-metadata.yaml --------------------------------------------------------------


def write_metadata(code_dir: Path, target_type: str, inference_model: str = "") -> None:
    (code_dir / "model-metadata.yaml").write_text(
        f"name: my-model\ntype: inference\ntargetType: {target_type}\n{inference_model}"
    )


def test_metadata_target_type_and_binary_labels_are_used(code_dir: Path) -> None:
    write_metadata(code_dir, "binary",
                   "inferenceModel:\n  positiveClassLabel: yes\n  negativeClassLabel: no\n")

    config = gather(code_dir)

    assert (config.target_type, config.labels) == (TargetType.BINARY, ("yes", "no"))
    assert config.model_metadata is not None
    assert config.model_metadata["name"] == "my-model"


def test_metadata_class_labels_are_used(code_dir: Path) -> None:
    write_metadata(code_dir, "multiclass",
                   "inferenceModel:\n  classLabels:\n    - red\n    - green\n    - blue\n")

    assert gather(code_dir).class_labels == ("red", "green", "blue")


def test_flag_labels_in_another_order_than_metadata_keep_the_flag_order(code_dir: Path) -> None:
    write_metadata(code_dir, "multiclass", "inferenceModel:\n  classLabels:\n    - a\n    - b\n")

    assert gather(code_dir, "--class-labels", "b", "a").class_labels == ("b", "a")


@pytest.mark.parametrize(
    ("metadata", "argv"),
    [
        pytest.param(("binary", "inferenceModel:\n  positiveClassLabel: t\n  negativeClassLabel: f\n"),
                     ("--target-type", "regression"), id="target-type"),
        pytest.param(("binary", "inferenceModel:\n  positiveClassLabel: t\n  negativeClassLabel: f\n"),
                     ("--positive-class-label", "x", "--negative-class-label", "f"),
                     id="positive-class-label"),
        pytest.param(("multiclass", "inferenceModel:\n  classLabels:\n    - a\n    - b\n"),
                     ("--class-labels", "a", "c"), id="class-labels"),
    ],
)
def test_flag_that_contradicts_metadata_is_an_error(
    code_dir: Path, metadata: tuple[str, str], argv: tuple[str, ...]
) -> None:
    write_metadata(code_dir, *metadata)

    with pytest.raises(ConfigError, match="model-metadata.yaml"):
        gather(code_dir, *argv)


# --- validation of what was gathered --------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        pytest.param((), {}, "Target type is missing", id="no-target-type"),
        pytest.param(("--target-type", "binary"), {},
                     "Positive/negative class labels are missing", id="binary-without-labels"),
        pytest.param(("--target-type", "binary", "--positive-class-label", "yes"), {},
                     "both --positive-class-label and --negative-class-label",
                     id="binary-one-label"),
        pytest.param(("--target-type", "multiclass"), {}, "Class labels are missing",
                     id="multiclass-without-labels"),
        pytest.param(("--target-type", "multiclass", "--class-labels", "a"), {},
                     "Multiclass classification requires at least 2 labels.",
                     id="multiclass-one-label"),
        pytest.param(("--target-type", "regression"), {"URL_PREFIX": "model"},
                     "URL prefix 'model' must start with '/'", id="url-prefix"),
        pytest.param(("--target-type", "regression", "--address", "host:port"), {},
                     "numeric port", id="address"),
    ],
)
def test_invalid_settings_are_config_errors(
    code_dir: Path, argv: tuple[str, ...], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        gather(code_dir, *argv, environ=environ)


def test_missing_code_dir_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match=f"The path {missing} is not a directory!"):
        gather(missing, "--target-type", "regression")


# --- the target types beyond the structured five ------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "metadata", "target_type"),
    [
        pytest.param(("--target-type", "unstructured"), {}, None, TargetType.UNSTRUCTURED,
                     id="flag"),
        pytest.param((), {"TARGET_TYPE": "geopoint"}, None, TargetType.GEO_POINT, id="env"),
        pytest.param((), {"TARGET_NAME": "answer"}, "targetType: textgeneration\n",
                     TargetType.TEXT_GENERATION, id="metadata"),
        pytest.param(("--target-type", "vectordatabase"), {"TARGET_NAME": "Predictions"}, None,
                     TargetType.VECTOR_DATABASE, id="vectordatabase"),
        pytest.param((), {"TARGET_TYPE": "agenticworkflow", "TARGET_NAME": "Response"}, None,
                     TargetType.AGENTIC_WORKFLOW, id="agenticworkflow"),
    ],
)
def test_every_target_type_from_flag_env_or_metadata(
    code_dir: Path, argv: tuple[str, ...], environ: dict[str, str], metadata: str | None,
    target_type: TargetType,
) -> None:
    if metadata is not None:
        (code_dir / "model-metadata.yaml").write_text(f"name: m\ntype: inference\n{metadata}")

    assert gather(code_dir, *argv, environ=environ).target_type is target_type


def test_missing_target_name_is_drums_error(code_dir: Path) -> None:
    with pytest.raises(ConfigError, match="Unexpected empty target name for text generation"):
        gather(code_dir, "--target-type", "textgeneration")


def test_target_name_from_env_or_metadata(code_dir: Path) -> None:
    write_metadata(code_dir, "agenticworkflow", "inferenceModel:\n  targetName: Response\n")

    assert gather(code_dir).target_name == "Response"
    assert gather(code_dir, environ={"TARGET_NAME": "Response"}).target_name == "Response"
    with pytest.raises(ConfigError, match="TARGET_NAME given as 'answer' disagrees with"):
        gather(code_dir, environ={"TARGET_NAME": "answer"})


def test_metadata_target_name_of_other_targets_is_not_needed(code_dir: Path) -> None:
    # DataRobot's metadata names the target of every model; only text-like targets use it.
    write_metadata(code_dir, "regression", "inferenceModel:\n  targetName: price\n")

    assert gather(code_dir, environ={"TARGET_NAME": "other"}).target_name == "other"


@pytest.mark.parametrize(
    ("argv", "metadata"),
    [
        pytest.param(("--class-labels", "cat", "dog"), None, id="flag"),
        pytest.param(("--class-labels-file", "{labels}"), None, id="file"),
        pytest.param((), "inferenceModel:\n  classLabels:\n    - cat\n    - dog\n", id="metadata"),
    ],
)
def test_multilabel_class_labels_as_for_multiclass(
    code_dir: Path, argv: tuple[str, ...], metadata: str | None
) -> None:
    (code_dir / "labels.txt").write_text("cat\ndog\n")
    argv = tuple(arg.format(labels=code_dir / "labels.txt") for arg in argv)
    write_metadata(code_dir, "multilabel", metadata or "")

    assert gather(code_dir, *argv).class_labels == ("cat", "dog")


def test_multilabel_without_class_labels_is_drums_error(code_dir: Path) -> None:
    with pytest.raises(ConfigError, match="Class labels are missing"):
        gather(code_dir, "--target-type", "multilabel")
