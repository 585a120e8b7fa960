"""Gathering a ``Config`` from what a user sets: flags, environment, runtime parameters,
``model-metadata.yaml``.

A value set in two places that disagree is an error naming both, never a
silent pick.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .model_metadata import ModelMetadata, read_model_metadata
from .runtime_parameters import read_runtime_param
from .settings import COUNT_SETTINGS, Batching, Config, ServerType, TargetType

__all__ = [
    "ENV_FLAGS",
    "BOOL_ENV_FLAGS",
    "PARAM_SETTINGS",
    "config_from_args",
    "merge_env",
    "parse_bool",
    "parse_address",
]

#: DRUM's environment variables standing for a flag's value.
ENV_FLAGS: dict[str, str] = {
    "CODE_DIR": "code_dir",
    "TARGET_TYPE": "target_type",
    "ADDRESS": "address",
    "POSITIVE_CLASS_LABEL": "positive_class_label",
    "NEGATIVE_CLASS_LABEL": "negative_class_label",
    "CLASS_LABELS": "class_labels",
    "CLASS_LABELS_FILE": "class_labels_file",
    "MAX_WORKERS": "max_workers",
    "RUNTIME_PARAMS_FILE": "runtime_params_file",
    "DRUM_BRIDGE_MODEL_THREADS": "model_threads",
    "DRUM_BRIDGE_FLASK_HOOK_THREADS": "flask_hook_threads",
    "DRUM_BRIDGE_WSGI_THREADS": "wsgi_threads",
    "DRUM_BRIDGE_GRACEFUL_TIMEOUT": "graceful_timeout",
    "DRUM_BRIDGE_MAX_BODY_SIZE": "max_body_size",
    "DRUM_BRIDGE_MAX_HEADER_SIZE": "max_header_size",
    "DRUM_BRIDGE_REQUEST_TIMEOUT": "request_timeout",
    "DRUM_BRIDGE_MAX_WAITING_REQUESTS": "max_waiting_requests",
    "DRUM_BRIDGE_BATCHING": "batching",
    "DRUM_BRIDGE_BATCH_MAX_ROWS": "batch_max_rows",
    "DRUM_BRIDGE_BATCH_MAX_REQUESTS": "batch_max_requests",
    "DRUM_BRIDGE_BATCH_MAX_WAIT_MS": "batch_max_wait_ms",
    "DRUM_BRIDGE_HEADER_TIMEOUT": "header_timeout",
    "DRUM_BRIDGE_BODY_TIMEOUT": "body_timeout",
    "DRUM_BRIDGE_METRICS": "metrics",
    "DRUM_BRIDGE_ACCESS_LOG": "access_log",
    "DRUM_BRIDGE_GC_FREEZE": "gc_freeze",
    "DRUM_BRIDGE_KEEP_FREED_MEMORY": "keep_freed_memory",
    "DRUM_BRIDGE_LOG_FORMAT": "log_format",
    "DRUM_BRIDGE_BACKLOG": "backlog",
    "DRUM_BRIDGE_KEEP_ALIVE": "keep_alive",
    "DRUM_BRIDGE_MAX_REQUESTS": "max_requests",
    "DRUM_BRIDGE_MAX_REQUESTS_JITTER": "max_requests_jitter",
    "DEPLOYMENT_CONFIG": "deployment_config",
    "USER_SECRETS_MOUNT_PATH": "user_secrets_mount_path",
    "USER_SECRETS_PREFIX": "user_secrets_prefix",
    "EXTERNAL_WEB_SERVER_URL": "webserver",
    "API_TOKEN": "api_token",
}
#: ... and those standing for a switch.
BOOL_ENV_FLAGS: dict[str, str] = {
    "WITH_ERROR_SERVER": "with_error_server",
    "SHOW_STACKTRACE": "show_stacktrace",
    "PRODUCTION": "production",
    "DRUM_BRIDGE_LOAD_ALL_EXTENSIONS": "load_all_extensions",
    "DRUM_BRIDGE_FLASK_HOOKS_INLINE": "flask_hooks_inline",
    "DRUM_BRIDGE_BATCH_ROW_WISE_SCORE": "batch_row_wise_score",
    "ALLOW_DR_API_ACCESS_FOR_ALL_CUSTOM_MODELS": "allow_dr_api_access",
}
#: Settings given as ``on``/``off`` (flag) or a boolean (env).
_ON_OFF = frozenset({"metrics", "access_log", "gc_freeze", "keep_freed_memory"})
#: Values never repeated in an error message.
_SECRET_FLAGS = frozenset({"api_token"})
_WHOLE_NUMBERS = frozenset({
    "max_body_size", "max_header_size", "max_waiting_requests", "backlog", "max_requests",
    "max_requests_jitter", "batch_max_rows", "batch_max_requests",
})
_SECONDS = frozenset({"graceful_timeout", "request_timeout", "keep_alive", "header_timeout", "body_timeout"})
_TRUE = {"1", "true", "yes", "y", "on", "t"}
_FALSE = {"0", "false", "no", "n", "off", "f", ""}


def parse_bool(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; use true/false, 1/0, yes/no or on/off")


def parse_address(address: str) -> tuple[str, int | None]:
    host, sep, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    if not sep:
        return address, None
    if not port.isdigit():
        raise ConfigError(f"Address {address!r} must be host[:port] with a numeric port")
    return host or "localhost", int(port)


def _flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _env_value(dest: str, raw: str) -> Any:
    if dest == "class_labels":
        return raw.split()
    if dest in COUNT_SETTINGS:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{raw!r} is not a whole number") from None
    if dest == "batching":
        if raw.strip().lower() == "auto":
            return "auto"
        try:
            return "on" if parse_bool(dest.upper(), raw) else "off"
        except ConfigError:
            raise ConfigError(f"{raw!r} is not a batching setting; use auto, on or off") from None
    if dest in _ON_OFF:
        return "on" if parse_bool(dest.upper(), raw) else "off"
    if dest in _WHOLE_NUMBERS:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{raw!r} is not a whole number") from None
    if dest == "batch_max_wait_ms":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{raw!r} is not a number of milliseconds") from None
    if dest in _SECONDS:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{raw!r} is not a number of seconds") from None
    return raw


def merge_env(args: argparse.Namespace, environ: Mapping[str, str]) -> argparse.Namespace:
    """Fill unset flags from their environment variables; a disagreement is an error."""
    merged = argparse.Namespace(**vars(args))
    for env, dest in ENV_FLAGS.items():
        raw = environ.get(env, "")
        if raw == "":
            continue
        env_value = _env_value(dest, raw)
        flag_value = getattr(args, dest)
        if flag_value is None:
            setattr(merged, dest, env_value)
        elif _normal(flag_value) != _normal(env_value):
            if dest in _SECRET_FLAGS:
                raise ConfigError(f"{_flag_name(dest)} disagrees with {env}; set one of them")
            raise ConfigError(
                f"{_flag_name(dest)} {flag_value!r} disagrees with {env}={raw!r}; set one of them"
            )
    for env, dest in BOOL_ENV_FLAGS.items():
        switch = environ.get(env)
        if switch is None:
            continue
        env_on = parse_bool(env, switch)
        if getattr(args, dest) and not env_on:
            raise ConfigError(f"{_flag_name(dest)} is given but {env}={switch!r} turns it off")
        setattr(merged, dest, getattr(args, dest) or env_on)
    return merged


def _normal(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _read_labels_file(path: str) -> tuple[str, ...]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"Could not read class labels file {path!r}: {exc}") from exc
    return tuple(line for line in text.splitlines() if line)


def _labels(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.class_labels and args.class_labels_file:
        raise ConfigError(
            "Give the class labels either with --class-labels or with --class-labels-file, not both"
        )
    if args.class_labels_file:
        labels = _read_labels_file(args.class_labels_file)
    elif args.class_labels:
        labels = tuple(args.class_labels)
    else:
        return None
    if len(labels) < 2:
        raise ConfigError("Multiclass classification requires at least 2 labels.")
    return labels


def _agree(what: str, given: Any, from_metadata: Any) -> Any:
    if given is None:
        return from_metadata
    if from_metadata is not None and _normal(given) != _normal(from_metadata):
        if isinstance(given, tuple) and set(given) == set(from_metadata):
            return given
        raise ConfigError(
            f"{what} given as {given!r} disagrees with model-metadata.yaml ({from_metadata!r});"
            " use either one of them or make them match"
        )
    return given


def _target_name(
    target_type: TargetType, environ: Mapping[str, str], metadata: ModelMetadata | None
) -> str | None:
    """The prediction column: DRUM reads TARGET_NAME; model-metadata.yaml may give it too."""
    from_env = environ.get("TARGET_NAME") or None
    if not target_type.needs_target_name:
        return from_env
    name: str | None = _agree("TARGET_NAME", from_env, metadata.target_name if metadata else None)
    return name


def _path(value: str | None) -> Path | None:
    return Path(value).resolve() if value else None


def server_type_from_env(environ: Mapping[str, str]) -> ServerType:
    from_param = read_runtime_param("DRUM_SERVER_TYPE", environ)
    plain = environ.get("DRUM_SERVER_TYPE") or None
    if from_param is not None and plain is not None and str(from_param).lower() != plain.lower():
        raise ConfigError(
            f"MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE ({from_param!r}) disagrees with"
            f" DRUM_SERVER_TYPE ({plain!r}); set one of them"
        )
    value = from_param if from_param is not None else plain
    return ServerType.FASTAPI if value is None else ServerType.parse(str(value))


def _max_workers(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from_param = read_runtime_param("CUSTOM_MODEL_WORKERS", environ)
    if from_param is None:
        return int(args.max_workers or 1)
    try:
        workers = int(from_param)
    except (TypeError, ValueError):
        raise ConfigError(f"CUSTOM_MODEL_WORKERS must be a whole number, got {from_param!r}") from None
    if args.max_workers not in (None, workers):
        raise ConfigError(
            f"--max-workers {args.max_workers} disagrees with runtime parameter"
            f" CUSTOM_MODEL_WORKERS={workers}; set one of them"
        )
    return workers


#: Settings DRUM reads from a runtime parameter: Config field -> (parameter, kind).
PARAM_SETTINGS: dict[str, tuple[str, type[int] | type[float]]] = {
    "request_timeout": ("DRUM_CLIENT_REQUEST_TIMEOUT", float),
    "backlog": ("DRUM_WEBSERVER_BACKLOG", int),
    "keep_alive": ("DRUM_GUNICORN_KEEP_ALIVE", float),
    "graceful_timeout": ("DRUM_GUNICORN_GRACEFUL_TIMEOUT", float),
    "max_requests": ("DRUM_GUNICORN_MAX_REQUESTS", int),
    "max_requests_jitter": ("DRUM_GUNICORN_MAX_REQUESTS_JITTER", int),
}


def _with_param(args: argparse.Namespace, dest: str, environ: Mapping[str, str]) -> Any:
    """The flag's value (or its env variable's), or the runtime parameter DRUM reads for it.

    Both given and different is an error; neither: the Config default.
    """
    param, kind = PARAM_SETTINGS[dest]
    given = getattr(args, dest)
    from_param = read_runtime_param(param, environ)
    if from_param is None:
        return kind(_given(args, dest))
    try:
        value = kind(from_param)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number of seconds"
        raise ConfigError(f"{param} must be {what}, got {from_param!r}") from None
    if given is not None and kind(given) != value:
        raise ConfigError(
            f"{_flag_name(dest)} {given:g} disagrees with runtime parameter {param}={value:g};"
            " set one of them"
        )
    return value


def _given(args: argparse.Namespace, dest: str) -> Any:
    """The flag's value (or its env variable's), else the Config default (0 is a value)."""
    value = getattr(args, dest)
    return value if value is not None else getattr(Config, dest)


def _switch(value: str | None) -> bool:
    return value != "off"


def _llm_id(environ: Mapping[str, str]) -> str | None:
    value = read_runtime_param("LLM_ID", environ)
    return str(value) if value not in (None, "") else None


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Config:
    """The Config for ``drum server`` flags ``args`` in environment ``environ``."""
    environ = os.environ if environ is None else environ
    args = merge_env(args, environ)
    if args.code_dir is None:
        raise ConfigError("the following arguments are required: -cd/--code-dir (or CODE_DIR)")
    if args.address is None:
        raise ConfigError("the following arguments are required: --address (or ADDRESS)")
    code_dir = Path(args.code_dir).resolve()
    if not code_dir.is_dir():
        raise ConfigError(f"The path {args.code_dir} is not a directory!")
    metadata = read_model_metadata(code_dir)
    target = _agree("--target-type", args.target_type, metadata.target_type if metadata else None)
    if target is None:
        raise ConfigError(
            "Target type is missing. It must be provided in --target-type argument,"
            " TARGET_TYPE env var or model config file."
        )
    target_type = TargetType.parse(str(target))
    positive = negative = None
    class_labels = None
    if target_type is TargetType.BINARY:
        if (args.positive_class_label is None) != (args.negative_class_label is None):
            raise ConfigError(
                "For binary classification both --positive-class-label and"
                " --negative-class-label have to be provided"
            )
        positive = _agree("Positive class label", args.positive_class_label,
                          metadata.positive_class_label if metadata else None)
        negative = _agree("Negative class label", args.negative_class_label,
                          metadata.negative_class_label if metadata else None)
        if positive is None or negative is None:
            raise ConfigError(
                "Positive/negative class labels are missing. They must be provided with either"
                " one: --positive-class-label/--negative-class-label arguments, environment"
                " variables, model config file."
            )
    elif target_type.takes_class_labels:
        class_labels = _agree("Class labels", _labels(args), metadata.class_labels if metadata else None)
        if class_labels is None:
            raise ConfigError(
                "Class labels are missing. They must be provided with either one:"
                " --class-labels/--class-labels-file arguments, environment variables,"
                " model config file."
            )
    host, port = parse_address(args.address)
    return Config(
        code_dir=code_dir,
        target_type=target_type,
        positive_class_label=positive,
        negative_class_label=negative,
        class_labels=class_labels,
        target_name=_target_name(target_type, environ, metadata),
        llm_id=_llm_id(environ),
        url_prefix=environ.get("URL_PREFIX", "").rstrip("/"),
        host=host,
        # DRUM 1.18.1 defaults to gunicorn, whose default port is 8000.
        port=port if port is not None else 8000,
        max_workers=_max_workers(args, environ),
        with_error_server=bool(args.with_error_server),
        show_stacktrace=bool(args.show_stacktrace),
        server_type=server_type_from_env(environ),
        load_all_extensions=bool(args.load_all_extensions),
        model_threads=args.model_threads or Config.model_threads,
        flask_hooks_inline=bool(args.flask_hooks_inline),
        flask_hook_threads=args.flask_hook_threads or Config.flask_hook_threads,
        wsgi_threads=args.wsgi_threads or Config.wsgi_threads,
        max_body_size=_given(args, "max_body_size"),
        max_header_size=_given(args, "max_header_size"),
        request_timeout=_with_param(args, "request_timeout", environ),
        max_waiting_requests=_given(args, "max_waiting_requests"),
        graceful_timeout=_with_param(args, "graceful_timeout", environ),
        backlog=_with_param(args, "backlog", environ),
        keep_alive=_with_param(args, "keep_alive", environ),
        max_requests=_with_param(args, "max_requests", environ),
        max_requests_jitter=_with_param(args, "max_requests_jitter", environ),
        header_timeout=_given(args, "header_timeout"),
        body_timeout=_given(args, "body_timeout"),
        metrics=_switch(args.metrics),
        batching=Batching.parse(args.batching or Config.batching.value),
        batch_row_wise_score=bool(args.batch_row_wise_score),
        batch_max_rows=args.batch_max_rows or Config.batch_max_rows,
        batch_max_requests=args.batch_max_requests or Config.batch_max_requests,
        batch_max_wait_ms=_given(args, "batch_max_wait_ms"),
        access_log=_switch(args.access_log),
        gc_freeze=_switch(args.gc_freeze),
        keep_freed_memory=_switch(args.keep_freed_memory),
        log_format=args.log_format or Config.log_format,
        deployment_config=_path(args.deployment_config),
        user_secrets_mount_path=_path(args.user_secrets_mount_path),
        user_secrets_prefix=args.user_secrets_prefix or None,
        allow_dr_api_access=bool(args.allow_dr_api_access),
        webserver=args.webserver or None,
        api_token=args.api_token or None,
        model_metadata=metadata.raw if metadata else None,
    )
