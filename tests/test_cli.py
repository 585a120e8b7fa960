"""``drum server``'s command line: DRUM's flags and environment variables, runtime
parameters and ``model-metadata.yaml``, gathered into one ``Config``."""

from __future__ import annotations

import json
import logging.config
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
from support.app import ADDRESS, parse_server_args

from drum_bridge import Config, ConfigError, ServerType, TargetType, cli
from drum_bridge.cli import CLI_ONLY_FLAGS, REFUSED_FLAGS, build_parser
from drum_bridge.config.sources import BOOL_ENV_FLAGS, ENV_FLAGS, config_from_args

#: Every option of DRUM 1.18.1's ``drum server --help`` (in help order), with a value
#: for those that take one.
DRUM_SERVER_FLAGS: dict[str, tuple[str, ...]] = {
    "-cd": ("/models/other",),
    "--code-dir": ("/models/other",),
    "--verbose": (),
    "--positive-class-label": ("yes",),
    "--negative-class-label": ("no",),
    "--class-labels": ("a", "b", "c"),
    "--class-labels-file": ("labels.txt",),
    "--logging-level": ("debug",),
    "--docker": ("python:3.11",),
    "--skip-deps-install": (),
    "--memory": ("1g",),
    "--show-perf": (),
    "--address": ("0.0.0.0:9000",),
    "--production": (),
    "--max-workers": ("2",),
    "--with-error-server": (),
    "--language": ("python",),
    "--show-stacktrace": (),
    "--monitor": (),
    "--monitor-embedded": (),
    "--deployment-id": ("deployment-1",),
    "--model-id": ("model-1",),
    "--monitor-settings": ("spooler_type=filesystem",),
    "--allow-dr-api-access": (),
    "--webserver": ("https://app.datarobot.com",),
    "--api-token": ("token",),
    "--gpu-predictor": ("nim",),
    "--sidecar": (),
    "--triton-host": ("http://triton",),
    "--triton-http-port": ("8000",),
    "--triton-grpc-port": ("8001",),
    "--target-type": ("binary",),
    "--query": ("a=1",),
    "--content-type": ("text/plain",),
    "--deployment-config": ("deployment.json",),
    "--user-secrets-mount-path": ("/secrets",),
    "--user-secrets-prefix": ("SECRET_",),
    "--runtime-params-file": ("params.yaml",),
    "--lazy-loading-file": ("lazy.json",),
}
#: The choices DRUM's help lists.
DRUM_SERVER_CHOICES: dict[str, tuple[str, ...]] = {
    "--logging-level": ("all", "debug", "info", "warn", "warning", "error", "critical", "fatal"),
    "--language": ("python", "r", "java", "other"),
    "--gpu-predictor": ("triton", "nim", "vllm"),
    "--target-type": (
        "binary", "regression", "anomaly", "unstructured", "multiclass", "transform",
        "textgeneration", "geopoint", "vectordatabase", "agenticworkflow", "multilabel",
    ),
}
OTHER_DRUM_COMMANDS = ("score", "fit", "perf-test", "validation", "new", "push")


def _dest(flag: str) -> str:
    return "code_dir" if flag == "-cd" else flag.removeprefix("--").replace("-", "_")


def _server_dests() -> set[str]:
    top_level = set(vars(build_parser().parse_args([])))
    return set(vars(parse_server_args())) - top_level


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    code_dir = tmp_path / "model"
    code_dir.mkdir()
    return code_dir


def gather(code_dir: Path, *argv: str, environ: Mapping[str, str] | None = None) -> Config:
    """The Config for ``drum server --code-dir CODE_DIR --address ... ARGV`` in ``environ``."""
    args = parse_server_args("--code-dir", str(code_dir), "--address", ADDRESS, *argv)
    return config_from_args(args, environ=environ or {})


# --- the parser -----------------------------------------------------------------------


@pytest.mark.parametrize("flag", DRUM_SERVER_FLAGS)
def test_every_drum_server_flag_is_accepted(flag: str) -> None:
    base = ("--code-dir", "/models/reg", "--address", ADDRESS)
    without = parse_server_args(*base)
    with_flag = parse_server_args(*base, flag, *DRUM_SERVER_FLAGS[flag])

    assert getattr(with_flag, _dest(flag)) != getattr(without, _dest(flag))


@pytest.mark.parametrize(
    ("flag", "choice"),
    [(flag, choice) for flag, choices in DRUM_SERVER_CHOICES.items() for choice in choices],
)
def test_every_drum_choice_is_accepted(flag: str, choice: str) -> None:
    assert getattr(parse_server_args(flag, choice), _dest(flag)) == choice


def test_every_flag_maps_to_a_config_field_or_is_listed() -> None:
    config_fields = {field.name for field in fields(Config)}
    unmapped = _server_dests() - config_fields - CLI_ONLY_FLAGS - set(REFUSED_FLAGS)
    assert unmapped == set()


#: A flag for every parser dest that is a Config field, and what it sets there.
FLAG_TO_FIELD: list[tuple[tuple[str, ...], str, Any]] = [
    (("--target-type", "anomaly"), "target_type", TargetType.ANOMALY),
    (("--target-type", "binary", "--positive-class-label", "y", "--negative-class-label", "n"),
     "positive_class_label", "y"),
    (("--target-type", "binary", "--positive-class-label", "y", "--negative-class-label", "n"),
     "negative_class_label", "n"),
    (("--target-type", "multiclass", "--class-labels", "a", "b"), "class_labels", ("a", "b")),
    (("--max-workers", "3"), "max_workers", 3),
    (("--with-error-server",), "with_error_server", True),
    (("--show-stacktrace",), "show_stacktrace", True),
    (("--load-all-extensions",), "load_all_extensions", True),
    (("--model-threads", "2"), "model_threads", 2),
    (("--flask-hooks-inline",), "flask_hooks_inline", True),
    (("--flask-hook-threads", "3"), "flask_hook_threads", 3),
    (("--wsgi-threads", "5"), "wsgi_threads", 5),
    (("--graceful-timeout", "7.5"), "graceful_timeout", 7.5),
]


@pytest.mark.parametrize(("argv", "field", "expected"), FLAG_TO_FIELD)
def test_flag_reaches_its_config_field(
    code_dir: Path, argv: tuple[str, ...], field: str, expected: Any
) -> None:
    if "--target-type" not in argv:
        argv = ("--target-type", "regression", *argv)
    assert getattr(gather(code_dir, *argv), field) == expected


def test_flag_to_field_table_covers_every_mapped_flag() -> None:
    mapped = _server_dests() & {field.name for field in fields(Config)}
    assert mapped - {"code_dir"} == {field for _, field, _ in FLAG_TO_FIELD}


# --- main() ---------------------------------------------------------------------------


DRUM_SETTINGS = {*ENV_FLAGS, *BOOL_ENV_FLAGS, "URL_PREFIX", "DRUM_SERVER_TYPE"}


def _is_drum_setting(name: str) -> bool:
    return name in DRUM_SETTINGS or name.startswith("MLOPS_RUNTIME_PARAM_")


@dataclass(frozen=True)
class MainResult:
    exit_code: int
    stderr: str
    #: What main() would have served.
    config: Config | None


@pytest.fixture
def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., MainResult]:
    """``drum ARGV`` without starting a server, in a copy of the environment without
    DRUM's settings (main() exports runtime parameters into it), and without touching
    the test process's logging."""
    environ = {name: value for name, value in os.environ.items() if not _is_drum_setting(name)}
    monkeypatch.setattr(os, "environ", environ)
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)
    served: list[Config] = []
    monkeypatch.setattr(cli, "serve", lambda config, level: served.append(config))

    def run(*argv: str) -> MainResult:
        exit_code = cli.main(list(argv))
        return MainResult(exit_code, capsys.readouterr().err, served[-1] if served else None)

    return run


def test_main_serves_the_gathered_config(run_main: Callable[..., MainResult], code_dir: Path) -> None:
    result = run_main("server", "--code-dir", str(code_dir), "--address", "0.0.0.0:9000",
                      "--target-type", "regression")

    assert result.exit_code == 0
    assert result.config == Config(
        code_dir=code_dir.resolve(), target_type=TargetType.REGRESSION, host="0.0.0.0", port=9000
    )


@pytest.mark.parametrize("dest", REFUSED_FLAGS)
def test_refused_flag_stops_main_naming_the_flag(
    run_main: Callable[..., MainResult], code_dir: Path, dest: str
) -> None:
    flag = "--" + dest.replace("_", "-")
    result = run_main("server", "--code-dir", str(code_dir), "--address", ADDRESS,
                      "--target-type", "regression", flag, *DRUM_SERVER_FLAGS[flag])

    assert (result.exit_code, result.config) == (2, None)
    assert flag in result.stderr


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param(("--language", "r"), "--language", id="language-r"),
        pytest.param(("--target-type", "geopoint"), "geopoint", id="unserved-target-type"),
    ],
)
def test_main_refuses_what_it_cannot_serve(
    run_main: Callable[..., MainResult], code_dir: Path, argv: tuple[str, ...], named: str
) -> None:
    result = run_main("server", "--code-dir", str(code_dir), "--address", ADDRESS, *argv)

    assert (result.exit_code, result.config) == (2, None)
    assert named in result.stderr


@pytest.mark.parametrize("command", OTHER_DRUM_COMMANDS)
def test_other_drum_commands_say_only_server_exists(
    run_main: Callable[..., MainResult], code_dir: Path, command: str
) -> None:
    result = run_main(command, "--code-dir", str(code_dir))

    assert (result.exit_code, result.config) == (2, None)
    assert f"drum {command}" in result.stderr
    assert "`drum server` only" in result.stderr


def test_main_reads_the_process_environment(
    run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch, code_dir: Path
) -> None:
    monkeypatch.setenv("CODE_DIR", str(code_dir))
    monkeypatch.setenv("ADDRESS", ADDRESS)
    monkeypatch.setenv("TARGET_TYPE", "anomaly")
    monkeypatch.setenv("URL_PREFIX", "/model")

    result = run_main("server")

    assert result.config is not None
    assert (result.config.code_dir, result.config.target_type, result.config.url_prefix) == (
        code_dir.resolve(), TargetType.ANOMALY, "/model",
    )


def test_main_reports_a_config_error_in_one_line(
    run_main: Callable[..., MainResult], code_dir: Path
) -> None:
    result = run_main("server", "--code-dir", str(code_dir), "--address", ADDRESS,
                      "--target-type", "binary")

    assert (result.exit_code, result.config) == (2, None)
    assert result.stderr == (
        "drum: error: Positive/negative class labels are missing. They must be provided with"
        " either one: --positive-class-label/--negative-class-label arguments, environment"
        " variables, model config file.\n"
    )


# --- runtime parameters ---------------------------------------------------------------


@pytest.mark.parametrize("via", ["flag", "env"])
def test_runtime_params_file_is_exported_and_read(
    run_main: Callable[..., MainResult],
    monkeypatch: pytest.MonkeyPatch,
    code_dir: Path,
    tmp_path: Path,
    via: str,
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("DRUM_SERVER_TYPE: flask\nCUSTOM_MODEL_WORKERS: 3\n")
    argv = ["server", "--code-dir", str(code_dir), "--address", ADDRESS,
            "--target-type", "regression"]
    if via == "flag":
        argv += ["--runtime-params-file", str(params)]
    else:
        monkeypatch.setenv("RUNTIME_PARAMS_FILE", str(params))

    result = run_main(*argv)

    exported = {name: json.loads(os.environ[f"MLOPS_RUNTIME_PARAM_{name}"])
                for name in ("DRUM_SERVER_TYPE", "CUSTOM_MODEL_WORKERS")}
    assert exported == {
        "DRUM_SERVER_TYPE": {"type": "string", "payload": "flask"},
        "CUSTOM_MODEL_WORKERS": {"type": "numeric", "payload": 3},
    }
    assert result.config is not None
    assert (result.config.server_type, result.config.max_workers) == (ServerType.FLASK, 3)


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


def test_no_subcommand_prints_help_and_exits_1_as_drum(run_main: Callable[..., MainResult]) -> None:
    result = run_main()

    assert (result.exit_code, result.config) == (1, None)
    assert "server" in result.stderr
