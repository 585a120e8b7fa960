"""``Config``: frozen, keyword-only, and validated with errors a user can act on."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from drum_bridge import Config, ConfigError, ServerType, TargetType
from drum_bridge.config import ExtensionStyle


def make_config(code_dir: Path, **settings: Any) -> Config:
    settings.setdefault("target_type", TargetType.REGRESSION)
    return Config(code_dir=code_dir, **settings)


def test_config_is_frozen(tmp_path: Path) -> None:
    config = make_config(tmp_path)

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_workers = 2  # type: ignore[misc]


def test_config_is_keyword_only(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        Config(tmp_path, TargetType.REGRESSION)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({"target_type": TargetType.BINARY, "positive_class_label": "yes",
                      "negative_class_label": "no"}, ("yes", "no"), id="binary-positive-first"),
        pytest.param({"target_type": TargetType.MULTICLASS, "class_labels": ("b", "a", "c")},
                     ("b", "a", "c"), id="multiclass-in-given-order"),
        pytest.param({}, None, id="regression"),
    ],
)
def test_labels_in_prediction_order(
    tmp_path: Path, settings: dict[str, Any], expected: tuple[str, ...] | None
) -> None:
    assert make_config(tmp_path, **settings).labels == expected


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"target_type": TargetType.BINARY}, "needs --positive-class-label",
                     id="binary-without-labels"),
        pytest.param({"target_type": TargetType.BINARY, "positive_class_label": "yes"},
                     "give both or neither", id="binary-one-label"),
        pytest.param({"target_type": TargetType.BINARY, "positive_class_label": "yes",
                      "negative_class_label": "yes"}, "must differ", id="binary-same-labels"),
        pytest.param({"target_type": TargetType.MULTICLASS, "class_labels": ("a",)},
                     "at least two class labels", id="multiclass-one-label"),
        pytest.param({"target_type": TargetType.MULTICLASS}, "at least two class labels",
                     id="multiclass-without-labels"),
        pytest.param({"target_type": TargetType.MULTICLASS, "class_labels": ("a", "b", "a")},
                     "must be unique", id="multiclass-duplicate-labels"),
        pytest.param({"class_labels": ("a", "b")}, "binary, multiclass and multilabel models only",
                     id="labels-for-regression"),
        pytest.param({"target_type": "regression"}, "must be a TargetType", id="target-type-str"),
        pytest.param({"url_prefix": "model"}, "must start with '/'", id="url-prefix-relative"),
        pytest.param({"url_prefix": "/model/"}, "not end with '/'", id="url-prefix-trailing-slash"),
        pytest.param({"max_workers": 0}, "max_workers must be a whole number of at least 1",
                     id="max-workers-0"),
        pytest.param({"model_threads": True}, "model_threads", id="model-threads-bool"),
        pytest.param({"port": 70000}, "Port must be between 1 and 65535", id="port"),
        pytest.param({"graceful_timeout": -1.0}, "graceful_timeout must not be negative",
                     id="graceful-timeout"),
    ],
)
def test_invalid_config_is_refused(tmp_path: Path, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(tmp_path, **settings)


def test_code_dir_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a directory"):
        make_config(tmp_path / "missing")


def test_config_errors_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_config(tmp_path, max_workers=0)


@pytest.mark.parametrize(
    ("text", "target_type"),
    [("regression", TargetType.REGRESSION), (" Binary ", TargetType.BINARY),
     ("textgeneration", TargetType.TEXT_GENERATION)],
)
def test_target_type_parse(text: str, target_type: TargetType) -> None:
    assert TargetType.parse(text) is target_type


def test_target_type_prints_as_drum_does() -> None:
    # DRUM's wrong-endpoint messages print the enum member.
    assert str(TargetType.REGRESSION) == "TargetType.REGRESSION"


@pytest.mark.parametrize("parse", [TargetType.parse, ServerType.parse])
def test_unknown_choice_names_the_choices(parse: Any) -> None:
    with pytest.raises(ConfigError, match="'nonsense'; choose one of: "):
        parse("nonsense")


@pytest.mark.parametrize(
    ("server_type", "style"),
    [(ServerType.FASTAPI, ExtensionStyle.FASTAPI), (ServerType.FLASK, ExtensionStyle.FLASK),
     (ServerType.GUNICORN, ExtensionStyle.FLASK), (ServerType.WERKZEUG, ExtensionStyle.FLASK)],
)
def test_server_type_picks_the_preferred_extension(
    server_type: ServerType, style: ExtensionStyle
) -> None:
    assert server_type.preferred_extension is style


# --- every DRUM target type -------------------------------------------------------------


def test_every_drum_target_type_is_a_target_type() -> None:
    from drum_bridge.cli import ALL_TARGET_TYPES

    assert {member.value for member in TargetType} == set(ALL_TARGET_TYPES)


@pytest.mark.parametrize(
    ("target_type", "printed"),
    [(TargetType.GEO_POINT, "TargetType.GEO_POINT"),
     (TargetType.VECTOR_DATABASE, "TargetType.VECTOR_DATABASE"),
     (TargetType.AGENTIC_WORKFLOW, "TargetType.AGENTIC_WORKFLOW"),
     (TargetType.TEXT_GENERATION, "TargetType.TEXT_GENERATION"),
     (TargetType.MULTILABEL, "TargetType.MULTILABEL"),
     (TargetType.UNSTRUCTURED, "TargetType.UNSTRUCTURED")],
)
def test_new_target_types_print_as_drums_members(target_type: TargetType, printed: str) -> None:
    # DRUM's wrong-endpoint 422 names the member; its names are DRUM's.
    assert str(target_type) == printed


@pytest.mark.parametrize(
    "target_type",
    [TargetType.TEXT_GENERATION, TargetType.VECTOR_DATABASE, TargetType.AGENTIC_WORKFLOW],
)
def test_text_like_target_needs_a_target_name(tmp_path: Path, target_type: TargetType) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, target_type=target_type)

    assert str(refused.value).startswith(
        "Unexpected empty target name for text generation, vector database, or agentic"
        " workflow target."
    )
    assert "TARGET_NAME" in str(refused.value)
    assert make_config(tmp_path, target_type=target_type, target_name="answer").target_name == "answer"


@pytest.mark.parametrize(
    "target_type", [TargetType.UNSTRUCTURED, TargetType.GEO_POINT, TargetType.ANOMALY]
)
def test_other_targets_need_no_target_name(tmp_path: Path, target_type: TargetType) -> None:
    assert make_config(tmp_path, target_type=target_type).target_name is None


def test_multilabel_takes_class_labels_as_multiclass_does(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, target_type=TargetType.MULTILABEL, class_labels=("cat", "dog", "fish")
    )

    assert config.labels == ("cat", "dog", "fish")
    with pytest.raises(ConfigError, match="A multilabel model needs at least two class labels"):
        make_config(tmp_path, target_type=TargetType.MULTILABEL, class_labels=("cat",))
    with pytest.raises(ConfigError, match="A multilabel model needs at least two class labels"):
        make_config(tmp_path, target_type=TargetType.MULTILABEL, positive_class_label="a",
                    negative_class_label="b")
