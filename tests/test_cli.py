"""``drum server``'s command line: DRUM's flags, each accepted, mapped to a Config field or
refused with its reason; ``main()``'s exit codes and messages; ``--help`` of every command.

Where a Config's values come from (environment, runtime parameters, metadata) is
tested in ``tests/config/test_sources.py``."""

from __future__ import annotations

import json
import logging.config
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
from support.app import ADDRESS, gather, parse_server_args

from drum_bridge import Batching, Config, ServerType, TargetType, cli
from drum_bridge.cli import CLI_ONLY_FLAGS, INERT_FLAGS, REFUSED_FLAGS, build_parser
from drum_bridge.compat.drum_settings import DRUM_SETTINGS as CATALOGUE
from drum_bridge.compat.drum_settings import DrumSetting, Fate
from drum_bridge.config.sources import BOOL_ENV_FLAGS, ENV_FLAGS

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
    unmapped = _server_dests() - config_fields - CLI_ONLY_FLAGS - set(REFUSED_FLAGS) - INERT_FLAGS
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
    (("--deployment-config", "/models/pps.json"), "deployment_config", Path("/models/pps.json")),
    (("--user-secrets-mount-path", "/secrets"), "user_secrets_mount_path", Path("/secrets")),
    (("--user-secrets-prefix", "SECRET"), "user_secrets_prefix", "SECRET"),
    (("--allow-dr-api-access",), "allow_dr_api_access", True),
    (("--webserver", "https://app.datarobot.com"), "webserver", "https://app.datarobot.com"),
    (("--api-token", "token"), "api_token", "token"),
    (("--max-body-size", "0"), "max_body_size", 0),
    (("--max-header-size", "0"), "max_header_size", 0),
    (("--request-timeout", "2.5"), "request_timeout", 2.5),
    (("--max-waiting-requests", "0"), "max_waiting_requests", 0),
    (("--header-timeout", "5"), "header_timeout", 5.0),
    (("--body-timeout", "0"), "body_timeout", 0.0),
    (("--metrics", "off"), "metrics", False),
    (("--access-log", "off"), "access_log", False),
    (("--gc-freeze", "off"), "gc_freeze", False),
    (("--keep-freed-memory", "off"), "keep_freed_memory", False),
    (("--log-format", "json"), "log_format", "json"),
    (("--backlog", "16"), "backlog", 16),
    (("--keep-alive", "0"), "keep_alive", 0.0),
    (("--max-requests", "500"), "max_requests", 500),
    (("--max-requests-jitter", "50"), "max_requests_jitter", 50),
    (("--batching", "on"), "batching", Batching.ON),
    (("--batching", "off"), "batching", Batching.OFF),
    (("--batch-row-wise-score",), "batch_row_wise_score", True),
    (("--batch-max-rows", "200"), "batch_max_rows", 200),
    (("--batch-max-requests", "8"), "batch_max_requests", 8),
    (("--batch-max-wait-ms", "2.5"), "batch_max_wait_ms", 2.5),
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


DRUM_SETTINGS = {
    *ENV_FLAGS, *BOOL_ENV_FLAGS, *(name for s in CATALOGUE for name in s.env_names),
}


def _is_drum_setting(name: str) -> bool:
    return name in DRUM_SETTINGS or name.startswith("MLOPS_RUNTIME_PARAM_")


@dataclass(frozen=True)
class MainResult:
    exit_code: int
    stderr: str
    #: What main() would have served, and at which logging level.
    config: Config | None
    level: str | None = None


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
    served: list[tuple[Config, str]] = []
    monkeypatch.setattr(cli, "serve", lambda config, level: served.append((config, level)) or 0)

    def run(*argv: str) -> MainResult:
        exit_code = cli.main(list(argv))
        config, level = served[-1] if served else (None, None)
        return MainResult(exit_code, capsys.readouterr().err, config, level)

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


def test_no_subcommand_prints_help_and_exits_1_as_drum(run_main: Callable[..., MainResult]) -> None:
    result = run_main()

    assert (result.exit_code, result.config) == (1, None)
    assert "server" in result.stderr


# --- every DRUM setting: works, has no effect (said so), or is refused -----------------------

#: What DRUM 1.18.1 reads for `drum server`: its ArgumentOptionsEnvVars (mapped to flags),
#: the environment defaults of its flags, and the environment-only settings.
DRUM_ENV_VARS = {
    "TARGET_TYPE", "CODE_DIR", "NEGATIVE_CLASS_LABEL", "POSITIVE_CLASS_LABEL", "CLASS_LABELS_FILE",
    "CLASS_LABELS", "ADDRESS", "MAX_WORKERS", "DEPLOYMENT_CONFIG", "USER_SECRETS_PREFIX",
    "USER_SECRETS_MOUNT_PATH", "WITH_ERROR_SERVER", "SHOW_STACKTRACE", "PRODUCTION", "MONITOR",
    "MLOPS_REPORTING_FROM_UNSTRUCTURED_MODELS", "SKIP_PREDICT",
    "ALLOW_DR_API_ACCESS_FOR_ALL_CUSTOM_MODELS", "RUNTIME_PARAMS_FILE", "LAZY_LOADING_FILE",
    "DEPLOYMENT_ID", "MLOPS_DEPLOYMENT_ID", "MODEL_ID", "MLOPS_MODEL_ID", "MONITOR_SETTINGS",
    "EXTERNAL_WEB_SERVER_URL", "API_TOKEN", "TRITON_HOST", "TRITON_HTTP_PORT", "TRITON_GRPC_PORT",
    "URL_PREFIX", "TARGET_NAME", "DRUM_SERVER_TYPE", "MLOPS_LAZY_LOADING_DATA",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}
#: The runtime parameters DRUM 1.18.1 reads as settings of its server.
DRUM_RUNTIME_PARAMS = {
    "DRUM_SERVER_TYPE", "CUSTOM_MODEL_WORKERS", "DRUM_CLIENT_REQUEST_TIMEOUT", "OTEL_SDK_DISABLED",
    "DRUM_WEBSERVER_BACKLOG", "DRUM_WORKER_CONNECTIONS", "DRUM_GUNICORN_WORKER_CLASS",
    "DRUM_GUNICORN_MAX_REQUESTS", "DRUM_GUNICORN_MAX_REQUESTS_JITTER",
    "DRUM_GUNICORN_GRACEFUL_TIMEOUT", "DRUM_GUNICORN_KEEP_ALIVE",
    "DRUM_GUNICORN_FIRST_BYTE_TIMEOUT", "DRUM_GUNICORN_LOG_LEVEL",
    "NIM_DIRECT_ACCESS_REQUEST_TIMEOUT",
}
TARGET = ("--target-type", "regression")
BINARY = ("--target-type", "binary")
PAIR = ("--positive-class-label", "y", "--negative-class-label", "n")
MULTI = ("--target-type", "multiclass")
PARAM = "MLOPS_RUNTIME_PARAM_"


def _param(payload: Any) -> str:
    return json.dumps({"type": "string", "payload": payload})


#: For each way to give a setting that works: the arguments after `server` (without
#: --code-dir and --address, which are added unless the way gives them), the environment,
#: and what the served Config (and logging level) must then show.
Check = Callable[[MainResult, Path], bool]
WORKS: dict[str, tuple[tuple[str, ...], dict[str, str], Check]] = {
    "--code-dir": (TARGET, {}, lambda r, t: r.config is not None and r.config.code_dir == t / "model"),
    "CODE_DIR": (TARGET, {"CODE_DIR": "{model}"}, lambda r, t: r.config is not None and r.config.code_dir == t / "model"),
    "--verbose": ((*TARGET, "--verbose"), {}, lambda r, t: r.level == "DEBUG"),
    "--logging-level": ((*TARGET, "--logging-level", "error"), {}, lambda r, t: r.level == "ERROR"),
    "--positive-class-label": ((*BINARY, *PAIR), {}, lambda r, t: r.config is not None and r.config.labels == ("y", "n")),
    "--negative-class-label": ((*BINARY, *PAIR), {}, lambda r, t: r.config is not None and r.config.negative_class_label == "n"),
    "POSITIVE_CLASS_LABEL": (BINARY, {"POSITIVE_CLASS_LABEL": "y", "NEGATIVE_CLASS_LABEL": "n"}, lambda r, t: r.config is not None and r.config.labels == ("y", "n")),
    "NEGATIVE_CLASS_LABEL": (BINARY, {"POSITIVE_CLASS_LABEL": "y", "NEGATIVE_CLASS_LABEL": "n"}, lambda r, t: r.config is not None and r.config.negative_class_label == "n"),
    "--class-labels": ((*MULTI, "--class-labels", "a", "b"), {}, lambda r, t: r.config is not None and r.config.labels == ("a", "b")),
    "CLASS_LABELS": (MULTI, {"CLASS_LABELS": "a b"}, lambda r, t: r.config is not None and r.config.labels == ("a", "b")),
    "--class-labels-file": ((*MULTI, "--class-labels-file", "{tmp}/labels.txt"), {}, lambda r, t: r.config is not None and r.config.labels == ("a", "b")),
    "CLASS_LABELS_FILE": (MULTI, {"CLASS_LABELS_FILE": "{tmp}/labels.txt"}, lambda r, t: r.config is not None and r.config.labels == ("a", "b")),
    "--address": (TARGET, {}, lambda r, t: r.config is not None and (r.config.host, r.config.port) == ("127.0.0.1", 8080)),
    "ADDRESS": (TARGET, {"ADDRESS": "0.0.0.0:9000"}, lambda r, t: r.config is not None and r.config.port == 9000),
    "--max-workers": ((*TARGET, "--max-workers", "3"), {}, lambda r, t: r.config is not None and r.config.max_workers == 3),
    "MAX_WORKERS": (TARGET, {"MAX_WORKERS": "3"}, lambda r, t: r.config is not None and r.config.max_workers == 3),
    "--with-error-server": ((*TARGET, "--with-error-server"), {}, lambda r, t: r.config is not None and r.config.with_error_server),
    "WITH_ERROR_SERVER": (TARGET, {"WITH_ERROR_SERVER": "1"}, lambda r, t: r.config is not None and r.config.with_error_server),
    "--language": ((*TARGET, "--language", "python"), {}, lambda r, t: r.config is not None),
    "--show-stacktrace": ((*TARGET, "--show-stacktrace"), {}, lambda r, t: r.config is not None and r.config.show_stacktrace),
    "SHOW_STACKTRACE": (TARGET, {"SHOW_STACKTRACE": "true"}, lambda r, t: r.config is not None and r.config.show_stacktrace),
    "--allow-dr-api-access": ((*TARGET, "--allow-dr-api-access", "--webserver", "https://dr", "--api-token", "t"), {}, lambda r, t: r.config is not None and r.config.allow_dr_api_access),
    "ALLOW_DR_API_ACCESS_FOR_ALL_CUSTOM_MODELS": (TARGET, {"ALLOW_DR_API_ACCESS_FOR_ALL_CUSTOM_MODELS": "1", "EXTERNAL_WEB_SERVER_URL": "https://dr", "API_TOKEN": "t"}, lambda r, t: r.config is not None and r.config.allow_dr_api_access),
    "--webserver": ((*TARGET, "--webserver", "https://dr"), {}, lambda r, t: r.config is not None and r.config.webserver == "https://dr"),
    "EXTERNAL_WEB_SERVER_URL": (TARGET, {"EXTERNAL_WEB_SERVER_URL": "https://dr"}, lambda r, t: r.config is not None and r.config.webserver == "https://dr"),
    "--api-token": ((*TARGET, "--api-token", "t"), {}, lambda r, t: r.config is not None and r.config.api_token == "t"),
    "API_TOKEN": (TARGET, {"API_TOKEN": "t"}, lambda r, t: r.config is not None and r.config.api_token == "t"),
    "--target-type": (TARGET, {}, lambda r, t: r.config is not None and r.config.target_type is TargetType.REGRESSION),
    "TARGET_TYPE": ((), {"TARGET_TYPE": "anomaly"}, lambda r, t: r.config is not None and r.config.target_type is TargetType.ANOMALY),
    "--deployment-config": ((*TARGET, "--deployment-config", "{tmp}/pps.json"), {}, lambda r, t: r.config is not None and r.config.deployment_config == t / "pps.json"),
    "DEPLOYMENT_CONFIG": (TARGET, {"DEPLOYMENT_CONFIG": "{tmp}/pps.json"}, lambda r, t: r.config is not None and r.config.deployment_config == t / "pps.json"),
    "--user-secrets-mount-path": ((*TARGET, "--user-secrets-mount-path", "{tmp}"), {}, lambda r, t: r.config is not None and r.config.user_secrets_mount_path == t),
    "USER_SECRETS_MOUNT_PATH": (TARGET, {"USER_SECRETS_MOUNT_PATH": "{tmp}"}, lambda r, t: r.config is not None and r.config.user_secrets_mount_path == t),
    "--user-secrets-prefix": ((*TARGET, "--user-secrets-prefix", "S"), {}, lambda r, t: r.config is not None and r.config.user_secrets_prefix == "S"),
    "USER_SECRETS_PREFIX": (TARGET, {"USER_SECRETS_PREFIX": "S"}, lambda r, t: r.config is not None and r.config.user_secrets_prefix == "S"),
    "--runtime-params-file": ((*TARGET, "--runtime-params-file", "{tmp}/params.yaml"), {}, lambda r, t: r.config is not None and r.config.max_workers == 2),
    "RUNTIME_PARAMS_FILE": (TARGET, {"RUNTIME_PARAMS_FILE": "{tmp}/params.yaml"}, lambda r, t: r.config is not None and r.config.max_workers == 2),
    "URL_PREFIX": (TARGET, {"URL_PREFIX": "/m"}, lambda r, t: r.config is not None and r.config.url_prefix == "/m"),
    "TARGET_NAME": (("--target-type", "textgeneration"), {"TARGET_NAME": "answer"}, lambda r, t: r.config is not None and r.config.target_name == "answer"),
    "DRUM_SERVER_TYPE": (TARGET, {"DRUM_SERVER_TYPE": "flask"}, lambda r, t: r.config is not None and r.config.server_type is ServerType.FLASK),
    f"{PARAM}DRUM_SERVER_TYPE": (TARGET, {f"{PARAM}DRUM_SERVER_TYPE": _param("flask")}, lambda r, t: r.config is not None and r.config.server_type is ServerType.FLASK),
    f"{PARAM}CUSTOM_MODEL_WORKERS": (TARGET, {f"{PARAM}CUSTOM_MODEL_WORKERS": _param("3")}, lambda r, t: r.config is not None and r.config.max_workers == 3),
    f"{PARAM}DRUM_CLIENT_REQUEST_TIMEOUT": (TARGET, {f"{PARAM}DRUM_CLIENT_REQUEST_TIMEOUT": _param("5")}, lambda r, t: r.config is not None and r.config.request_timeout == 5),
    "OTEL_EXPORTER_OTLP_ENDPOINT": (TARGET, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, lambda r, t: r.config is not None),
    f"{PARAM}OTEL_SDK_DISABLED": (TARGET, {f"{PARAM}OTEL_SDK_DISABLED": _param("true")}, lambda r, t: r.config is not None),
    f"{PARAM}DRUM_WEBSERVER_BACKLOG": (TARGET, {f"{PARAM}DRUM_WEBSERVER_BACKLOG": _param("64")}, lambda r, t: r.config is not None and r.config.backlog == 64),
    f"{PARAM}DRUM_GUNICORN_MAX_REQUESTS": (TARGET, {f"{PARAM}DRUM_GUNICORN_MAX_REQUESTS": _param("100")}, lambda r, t: r.config is not None and r.config.max_requests == 100),
    f"{PARAM}DRUM_GUNICORN_MAX_REQUESTS_JITTER": (TARGET, {f"{PARAM}DRUM_GUNICORN_MAX_REQUESTS_JITTER": _param("7")}, lambda r, t: r.config is not None and r.config.max_requests_jitter == 7),
    f"{PARAM}DRUM_GUNICORN_GRACEFUL_TIMEOUT": (TARGET, {f"{PARAM}DRUM_GUNICORN_GRACEFUL_TIMEOUT": _param("12")}, lambda r, t: r.config is not None and r.config.graceful_timeout == 12),
    f"{PARAM}DRUM_GUNICORN_KEEP_ALIVE": (TARGET, {f"{PARAM}DRUM_GUNICORN_KEEP_ALIVE": _param("0")}, lambda r, t: r.config is not None and r.config.keep_alive == 0),
}


def _ways(fate: Fate) -> list[Any]:
    """One case per flag and per environment variable of each setting of that fate."""
    return [
        pytest.param(setting, way, id=way)
        for setting in CATALOGUE if setting.fate is fate
        for way in ([setting.flag] if setting.flag else []) + list(setting.env_names)
    ]


@pytest.fixture
def settings_dir(tmp_path: Path, code_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files the WORKS cases name, and a stand-in `datarobot` package for the API access."""
    (tmp_path / "labels.txt").write_text("a\nb\n")
    (tmp_path / "params.yaml").write_text("CUSTOM_MODEL_WORKERS: 2\n")
    (tmp_path / "pps.json").write_text('{"target": {"name": "y", "class_mapping": null}}')
    (tmp_path / "datarobot").mkdir()
    (tmp_path / "datarobot" / "__init__.py").write_text("def Client(**kwargs): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _main_with(run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch,
               tmp: Path, argv: tuple[str, ...], env: dict[str, str]) -> MainResult:
    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp)).replace("{model}", str(tmp / "model"))

    for name, value in env.items():
        monkeypatch.setitem(os.environ, name, fill(value))
    base = [] if "CODE_DIR" in env else ["--code-dir", str(tmp / "model")]
    base += [] if "ADDRESS" in env else ["--address", ADDRESS]
    return run_main("server", *base, *map(fill, argv))  # type: ignore[no-any-return]


def test_the_catalogue_lists_every_drum_setting() -> None:
    flags = {s.flag for s in CATALOGUE if s.flag}
    plain_env = {name for s in CATALOGUE if not s.runtime_parameter for name in s.env}
    params = {name for s in CATALOGUE if s.runtime_parameter for name in s.env}
    assert flags == set(DRUM_SERVER_FLAGS) - {"-cd"}
    assert plain_env == DRUM_ENV_VARS
    assert params == DRUM_RUNTIME_PARAMS


def test_every_working_way_has_a_case() -> None:
    assert set(WORKS) == {way for case in _ways(Fate.WORKS) for way in [case.values[1]]}


@pytest.mark.parametrize(("setting", "way"), _ways(Fate.WORKS))
def test_a_setting_that_works_reaches_the_server(
    run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch, settings_dir: Path,
    setting: DrumSetting, way: str,
) -> None:
    argv, env, check = WORKS[way]
    result = _main_with(run_main, monkeypatch, settings_dir, argv, env)

    assert (result.exit_code, result.stderr) == (0, "")
    assert check(result, settings_dir)


@pytest.mark.parametrize(("setting", "way"), _ways(Fate.REFUSED))
def test_a_refused_setting_stops_start_up_in_one_line(
    run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    code_dir: Path, setting: DrumSetting, way: str,
) -> None:
    if way.startswith("--"):
        argv: tuple[str, ...] = (*TARGET, way, *DRUM_SERVER_FLAGS[way])
        env = {}
    else:
        argv, env = TARGET, {way: "1" if setting.switch else _param("x")}
    result = _main_with(run_main, monkeypatch, tmp_path, argv, env)

    assert (result.exit_code, result.config) == (2, None)
    assert result.stderr == f"drum: error: {way} {setting.note}\n"


@pytest.mark.parametrize(("setting", "way"), _ways(Fate.INERT))
def test_an_inert_setting_is_served_with_a_warning(
    run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    code_dir: Path, caplog: pytest.LogCaptureFixture, setting: DrumSetting, way: str,
) -> None:
    if way.startswith("--"):
        argv: tuple[str, ...] = (*TARGET, way, *DRUM_SERVER_FLAGS[way])
        env = {}
    else:
        argv, env = TARGET, {way: "1" if setting.switch else "some-id"}
    with caplog.at_level(logging.WARNING, logger="drum_bridge.cli"):
        result = _main_with(run_main, monkeypatch, tmp_path, argv, env)

    assert result.exit_code == 0 and result.config is not None
    assert f"{way} {setting.note}" in caplog.messages


@pytest.mark.parametrize("name", ["MONITOR", "MLOPS_REPORTING_FROM_UNSTRUCTURED_MODELS"])
def test_a_refused_switch_turned_off_is_no_refusal(
    run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    code_dir: Path, name: str,
) -> None:
    result = _main_with(run_main, monkeypatch, tmp_path, TARGET, {name: "false"})

    assert (result.exit_code, result.stderr) == (0, "")


def test_api_access_without_the_datarobot_package_is_refused(
    run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    code_dir: Path,
) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    result = _main_with(run_main, monkeypatch, tmp_path,
                        (*TARGET, "--allow-dr-api-access", "--webserver", "https://dr"), {"API_TOKEN": "t"})

    assert (result.exit_code, result.stderr) == (2, (
        "drum: error: DataRobot APIs access (--allow-dr-api-access) needs the datarobot package:"
        " pip install datarobot\n"
    ))


def test_a_token_that_disagrees_is_not_repeated(
    run_main: Callable[..., MainResult], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    code_dir: Path,
) -> None:
    result = _main_with(run_main, monkeypatch, tmp_path, (*TARGET, "--api-token", "one"),
                        {"API_TOKEN": "two"})

    assert (result.exit_code, result.stderr) == (
        2, "drum: error: --api-token disagrees with API_TOKEN; set one of them\n"
    )


# --- --help, as a user runs it ------------------------------------------------------------


@pytest.mark.parametrize("command", ["drum", "drum-bridge"])
@pytest.mark.parametrize("argv", [(), ("server",)], ids=["top", "server"])
def test_help_of_every_command_prints_its_usage(command: str, argv: tuple[str, ...]) -> None:
    # A real process: argparse formats the usage for the terminal, and a Python release's
    # formatter once failed on drum's options (AssertionError), which only --help shows.
    executable = Path(sys.executable).with_name(command)
    done = subprocess.run(
        [str(executable), *argv, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    usage = " ".join([command, *argv])
    assert done.stdout.startswith(f"usage: {usage} [-h]")
    if argv:
        for flag in ("--code-dir", "--target-type", "--address", "--model-threads"):
            assert flag in done.stdout
    else:
        assert "serve the model via REST APIs" in done.stdout
