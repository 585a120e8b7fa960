"""``drum server`` / ``drum-bridge server``: DRUM's command line, flags + environment -> Config.

Every flag of ``drum server`` (datarobot-drum 1.18.1) is accepted.  Flags that
cannot apply here stop the command with the reason; none is silently ignored.
Once the Config is built, ``server.serve`` runs the process (uvicorn, workers,
signals).
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .compat.datarobot_api import check_datarobot_api_access
from .compat.drum_settings import DRUM_SETTINGS, Fate, check_drum_settings, refused_flags
from .config import Config
from .config.runtime_parameters import runtime_params_env
from .config.settings import LOG_FORMATS
from .config.sources import config_from_args, merge_env
from .errors import ConfigError, DrumBridgeError
from .migrate.command import add_migrate_command, run_migrate
from .model.deployment_output import check_deployment_target, read_deployment_config
from .server import serve
from .server.logging_config import LOG_LEVELS, logging_config
from .version import DRUM_VERSION, __version__

__all__ = ["main", "build_parser", "config_from_server_args", "log_level", "CLI_ONLY_FLAGS", "INERT_FLAGS", "REFUSED_FLAGS"]

logger = logging.getLogger("drum_bridge.cli")

SUBCOMMANDS = ("score", "fit", "perf-test", "validation", "server", "new", "push")
#: DRUM's ``--target-type`` choices in its order; every one is a ``TargetType`` served here.
ALL_TARGET_TYPES = (
    "binary", "regression", "anomaly", "unstructured", "multiclass", "transform",
    "textgeneration", "geopoint", "vectordatabase", "agenticworkflow", "multilabel",
)
#: Flags accepted by DRUM that stop drum-bridge, with the reason (from ``compat.drum_settings``).
REFUSED_FLAGS: dict[str, str] = refused_flags()
#: Flags accepted and, as in DRUM without MLOps monitoring, without effect (a line is logged).
INERT_FLAGS = frozenset(
    setting.dest for setting in DRUM_SETTINGS if setting.fate is Fate.INERT and setting.dest
)
#: Flags that shape the process rather than the app, so they have no Config field.
CLI_ONLY_FLAGS = frozenset({
    "address", "class_labels_file", "logging_level", "verbose", "runtime_params_file",
    "language",
})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-cd", "--code-dir", help="Custom model code dir (env CODE_DIR)")
    add("--verbose", action="store_true", help="Show verbose output (logging level debug)")
    add("--positive-class-label", help="Positive class label of a binary model (env POSITIVE_CLASS_LABEL)")
    add("--negative-class-label", help="Negative class label of a binary model (env NEGATIVE_CLASS_LABEL)")
    add("--class-labels", nargs="+", help="Class labels of a multiclass model, in the order of its probabilities (env CLASS_LABELS)")
    add("--class-labels-file", help="File with one class label a line (env CLASS_LABELS_FILE)")
    add("--logging-level", choices=tuple(LOG_LEVELS), default="info", help="Logging level (default: info)")
    add("--docker", help=argparse.SUPPRESS)
    add("--skip-deps-install", action="store_true", help=argparse.SUPPRESS)
    add("--memory", help=argparse.SUPPRESS)
    add("--show-perf", action="store_true", help=argparse.SUPPRESS)
    add("--address", help="Server address host[:port] (env ADDRESS; default port 8000)")
    add("--production", action="store_true", help="[DEPRECATED] has no effect; use --max-workers")
    add("--max-workers", type=_positive_int, help="Worker processes on one port (env MAX_WORKERS, CUSTOM_MODEL_WORKERS)")
    add("--with-error-server", action="store_true", help="Serve 513 errors if the model fails to load (env WITH_ERROR_SERVER)")
    add("--language", choices=("python", "r", "java", "other"), help="Model language; drum-bridge serves python")
    add("--show-stacktrace", action="store_true", help="Log stack traces of errors (env SHOW_STACKTRACE)")
    # Not a mutually exclusive group, as in DRUM: on Python 3.11 argparse's usage formatter
    # fails on a group of suppressed options (AssertionError on --help); both are refused anyway.
    add("--monitor", action="store_true", help=argparse.SUPPRESS)
    add("--monitor-embedded", action="store_true", help=argparse.SUPPRESS)
    for name in ("--deployment-id", "--model-id", "--monitor-settings"):
        add(name, help=argparse.SUPPRESS)
    add("--allow-dr-api-access", action="store_true",
        help="Configure the datarobot client for model code; needs --webserver, --api-token and"
             " `pip install datarobot` (env ALLOW_DR_API_ACCESS_FOR_ALL_CUSTOM_MODELS)")
    add("--webserver", help="DataRobot's URL, for --allow-dr-api-access (env EXTERNAL_WEB_SERVER_URL)")
    add("--api-token", help="DataRobot API token, for --allow-dr-api-access (env API_TOKEN)")
    for name in ("--triton-host", "--triton-http-port", "--triton-grpc-port"):
        add(name, help=argparse.SUPPRESS)
    add("--gpu-predictor", choices=("triton", "nim", "vllm"), help=argparse.SUPPRESS)
    add("--sidecar", action="store_true", help=argparse.SUPPRESS)
    add("--target-type", choices=ALL_TARGET_TYPES, help="Target type (env TARGET_TYPE)")
    add("--deployment-config",
        help="Deployment config JSON: /predict/ answers in DataRobot's prediction server shape (env DEPLOYMENT_CONFIG)")
    add("--user-secrets-mount-path",
        help="Folder of a custom task's secrets, one JSON file each (env USER_SECRETS_MOUNT_PATH)")
    add("--user-secrets-prefix",
        help="Read a custom task's secrets from the <PREFIX>_<NAME> variables (env USER_SECRETS_PREFIX)")
    for name in ("--query", "--content-type", "--lazy-loading-file"):
        add(name, help=argparse.SUPPRESS)
    add("--runtime-params-file", help="YAML file of runtime parameter values (env RUNTIME_PARAMS_FILE)")
    bridge = parser.add_argument_group("drum-bridge settings")
    bridge.add_argument("--load-all-extensions", action="store_true",
                        help="Load custom_fastapi.py and custom_flask.py both (env DRUM_BRIDGE_LOAD_ALL_EXTENSIONS)")
    bridge.add_argument("--model-threads", type=_positive_int,
                        help=f"Threads running model code at once (env DRUM_BRIDGE_MODEL_THREADS; default {Config.model_threads})")
    bridge.add_argument("--flask-hooks-inline", action="store_true",
                        help="Run custom_flask.py hooks on the event loop; only for hooks that never block (env DRUM_BRIDGE_FLASK_HOOKS_INLINE)")
    bridge.add_argument("--flask-hook-threads", type=_positive_int,
                        help=f"Threads running Flask hooks at once (env DRUM_BRIDGE_FLASK_HOOK_THREADS; default {Config.flask_hook_threads})")
    bridge.add_argument("--wsgi-threads", type=_positive_int,
                        help=f"Threads serving custom_flask.py routes at once (env DRUM_BRIDGE_WSGI_THREADS; default {Config.wsgi_threads})")
    bridge.add_argument("--graceful-timeout", type=float,
                        help=f"Seconds SIGTERM waits for requests in flight (runtime parameter DRUM_GUNICORN_GRACEFUL_TIMEOUT, env DRUM_BRIDGE_GRACEFUL_TIMEOUT; default {Config.graceful_timeout:g})")
    bridge.add_argument("--max-body-size", type=_non_negative_int, metavar="BYTES",
                        help=f"Largest request body, answered 413 past it; 0: no limit (env DRUM_BRIDGE_MAX_BODY_SIZE; default {Config.max_body_size})")
    bridge.add_argument("--max-header-size", type=_non_negative_int, metavar="BYTES",
                        help=f"Largest request headers, all together, answered 431 past it; 0: no limit (env DRUM_BRIDGE_MAX_HEADER_SIZE; default {Config.max_header_size})")
    bridge.add_argument("--request-timeout", type=_non_negative_float, metavar="SECONDS",
                        help=f"Seconds model code may take for a request, answered 504 past it; 0: no limit (runtime parameter DRUM_CLIENT_REQUEST_TIMEOUT, env DRUM_BRIDGE_REQUEST_TIMEOUT; default {Config.request_timeout:g})")
    bridge.add_argument("--max-waiting-requests", type=_non_negative_int, metavar="N",
                        help=f"Requests that may wait for a busy model thread, answered 503 past it (env DRUM_BRIDGE_MAX_WAITING_REQUESTS; default {Config.max_waiting_requests})")
    bridge.add_argument("--header-timeout", type=_non_negative_float, metavar="SECONDS",
                        help=f"Seconds a request's headers may take to arrive, answered 408 past it; 0: no limit (env DRUM_BRIDGE_HEADER_TIMEOUT; default {Config.header_timeout:g})")
    bridge.add_argument("--body-timeout", type=_non_negative_float, metavar="SECONDS",
                        help=f"Seconds a request body may stop arriving, answered 408 past it; 0: no limit (env DRUM_BRIDGE_BODY_TIMEOUT; default {Config.body_timeout:g})")
    bridge.add_argument("--batching", choices=("auto", "on", "off"),
                        help="Combine /predict/ requests that arrive while the model is busy into one model call, each answered as alone (artifact models; a score hook with --batch-row-wise-score); auto: stop if one of the first batched calls answers a request otherwise than alone (env DRUM_BRIDGE_BATCHING; default auto)")
    bridge.add_argument("--batch-row-wise-score", action="store_true",
                        help="custom.py's score hook scores each row on its own, so its requests may be batched (env DRUM_BRIDGE_BATCH_ROW_WISE_SCORE)")
    bridge.add_argument("--batch-max-rows", type=_positive_int, metavar="N",
                        help=f"Most rows in one batched model call; a larger request is scored alone (env DRUM_BRIDGE_BATCH_MAX_ROWS; default {Config.batch_max_rows})")
    bridge.add_argument("--batch-max-requests", type=_positive_int, metavar="N",
                        help=f"Most requests in one batched model call (env DRUM_BRIDGE_BATCH_MAX_REQUESTS; default {Config.batch_max_requests})")
    bridge.add_argument("--batch-max-wait-ms", type=_non_negative_float, metavar="MS",
                        help=f"Milliseconds a request that found the model busy may wait for others to join it once a model thread is free (env DRUM_BRIDGE_BATCH_MAX_WAIT_MS; default {Config.batch_max_wait_ms:g})")
    ops = parser.add_argument_group("drum-bridge operations")
    ops.add_argument("--metrics", choices=("on", "off"),
                     help="Serve Prometheus metrics at /metrics (env DRUM_BRIDGE_METRICS; default on)")
    ops.add_argument("--access-log", choices=("on", "off"),
                     help="Log a line per request (env DRUM_BRIDGE_ACCESS_LOG; default on)")
    ops.add_argument("--gc-freeze", choices=("on", "off"),
                     help="Freeze the start-up heap once the model is loaded: the garbage collector's full collections skip it (env DRUM_BRIDGE_GC_FREEZE; default on)")
    ops.add_argument("--keep-freed-memory", choices=("on", "off"),
                     help="glibc malloc keeps freed memory up to its own upper bounds instead of returning it after each large request (env DRUM_BRIDGE_KEEP_FREED_MEMORY; default on)")
    ops.add_argument("--log-format", choices=LOG_FORMATS,
                     help="Log lines as text or one JSON object a line (env DRUM_BRIDGE_LOG_FORMAT; default text)")
    ops.add_argument("--backlog", type=_positive_int, metavar="N",
                     help=f"Connections waiting to be accepted (runtime parameter DRUM_WEBSERVER_BACKLOG, env DRUM_BRIDGE_BACKLOG; default {Config.backlog})")
    ops.add_argument("--keep-alive", type=_non_negative_float, metavar="SECONDS",
                     help=f"Seconds an idle connection stays open; 0: closed after each response (runtime parameter DRUM_GUNICORN_KEEP_ALIVE, env DRUM_BRIDGE_KEEP_ALIVE; default {Config.keep_alive:g})")
    ops.add_argument("--max-requests", type=_non_negative_int, metavar="N",
                     help="Replace a worker process after N requests; 0: never (runtime parameter DRUM_GUNICORN_MAX_REQUESTS, env DRUM_BRIDGE_MAX_REQUESTS; default 0)")
    ops.add_argument("--max-requests-jitter", type=_non_negative_int, metavar="N",
                     help="Up to N more requests, drawn per worker (runtime parameter DRUM_GUNICORN_MAX_REQUESTS_JITTER, env DRUM_BRIDGE_MAX_REQUESTS_JITTER; default 0)")


def _number(kind: type[float] | type[int], minimum: float, condition: str) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` of at least ``minimum``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {condition}")
        return value

    return parse


_positive_int = _number(int, 1, "> 0")
_non_negative_int = _number(int, 0, "0 or more")
_non_negative_float = _number(float, 0, "0 or more")


#: The console scripts; both are this command.
COMMAND_NAMES = ("drum", "drum-bridge")


def build_parser(prog: str = "drum") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="drum-bridge: DataRobot's `drum server` on FastAPI and uvicorn")
    parser.add_argument(
        "--version", action="version",
        version=f"drum-bridge {__version__} (drum server of datarobot-drum {DRUM_VERSION})",
    )
    commands = parser.add_subparsers(dest="command", metavar="{server,migrate}")
    server = commands.add_parser("server", help="serve the model via REST APIs")
    _server_arguments(server)
    add_migrate_command(commands)
    return parser


def _refuse(args: argparse.Namespace) -> None:
    for dest, reason in REFUSED_FLAGS.items():
        if getattr(args, dest) not in (None, False):
            raise ConfigError(f"--{dest.replace('_', '-')} {reason}")
    if args.language not in (None, "python"):
        raise ConfigError(f"--language {args.language}: drum-bridge serves Python models only")


def _check_model_settings(config: Config) -> None:
    """What the model's settings need, checked before serving (each worker reads them again)."""
    if config.allow_dr_api_access:
        check_datarobot_api_access(config.webserver, config.api_token)
    if config.deployment_config is not None:
        target = read_deployment_config(config.deployment_config)
        check_deployment_target(target, config.target_type, config.labels)


def log_level(args: argparse.Namespace) -> str:
    """The logging level's name for ``drum server`` flags ``args``."""
    return LOG_LEVELS["debug" if args.verbose else args.logging_level]


def config_from_server_args(args: argparse.Namespace) -> Config:
    """The Config for parsed ``drum server`` flags in this process's environment.

    Refused settings raise ``ConfigError``; inert ones are logged.  A runtime
    parameters file is read into ``os.environ`` (as DRUM does), so that the
    model's code and the workers see its values.  ``server/gunicorn.conf.py``
    builds its Config here too.
    """
    _refuse(args)
    params_file = merge_env(args, os.environ).runtime_params_file
    if params_file:
        os.environ.update(runtime_params_env(Path(params_file)))
    for note in check_drum_settings(args, os.environ):
        logger.warning("%s", note)
    config = config_from_args(args)
    _check_model_settings(config)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS and argv[0] != "server":
        print(
            f"drum: `drum {argv[0]}` is not available: drum-bridge implements `drum server` only."
            " Use datarobot-drum for the other commands.",
            file=sys.stderr,
        )
        return 2
    invoked_as = os.path.basename(sys.argv[0])
    parser = build_parser(invoked_as if invoked_as in COMMAND_NAMES else "drum")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 1  # as DRUM without a subcommand
    if args.command == "migrate":
        return run_migrate(args)
    level = log_level(args)
    logging.config.dictConfig(logging_config(level))
    try:
        config = config_from_server_args(args)
    except ConfigError as exc:
        print(f"drum: error: {exc}", file=sys.stderr)
        return 2
    logging.config.dictConfig(logging_config(level, config.log_format, config.access_log))
    try:
        return serve(config, level)
    except DrumBridgeError as exc:
        logger.error("%s", exc, exc_info=config.show_stacktrace)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
