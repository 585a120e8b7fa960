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

from drum_bridge import Config, ServerType, TargetType, cli
from drum_bridge.cli import CLI_ONLY_FLAGS, REFUSED_FLAGS, build_parser
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


def test_no_subcommand_prints_help_and_exits_1_as_drum(run_main: Callable[..., MainResult]) -> None:
    result = run_main()

    assert (result.exit_code, result.config) == (1, None)
    assert "server" in result.stderr


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
